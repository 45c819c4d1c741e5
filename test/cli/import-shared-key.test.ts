import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importCommand, type ImportReport } from '../../cli/commands/import.ts';
import { InputError } from '../../cli/usage.ts';
import { classifyStoredDeviceKey } from '../../shared/bootstrap/device-key-classification.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { keyFingerprint } from '../../shared/lifecycle/key-fingerprint.ts';
import { openLocalStore } from '../../server/store/local-store.ts';
import { PEPPER_FILE } from '../../server/store/pepper-file.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const PROFILE = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://dm.example.com:5683' }], bootstrapServer: { uri: 'coaps://bs.example.com:5684' } });
const randomKey = (): string => randomBytes(16).toString('hex');
const SHARED_KEY = randomKey();
const row = (endpoint: string, secretKey: string): object => ({
  endpoint,
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey },
});

/**
 * `lwm2m-bs import` in process against a real data directory (embedded dynalite, the pepper
 * file), one run at a time as an operator would: the store is opened and closed by each run.
 */
describe('lwm2m-bs import: a key another stored device holds (seed 002)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-shared-key-'));
  const dataDir = join(work, 'data');
  after(() => rmSync(work, { recursive: true, force: true }));

  async function importRows(name: string, rows: readonly object[], flags: string[] = []): Promise<{ stdout: string; report: ImportReport; error?: unknown }> {
    const file = join(work, `${name}.jsonl`);
    writeFileSync(file, rows.map((entry) => JSON.stringify(entry)).join('\n'));
    const reportFile = join(work, `${name}.report.json`);
    let stdout = '';
    const io = { stdout: (text: string) => (stdout += text), stderr: () => undefined, readStdin: async () => '', stderrIsTTY: false };
    let error: unknown;
    try {
      await importCommand([file, '--data-dir', dataDir, '--report', reportFile, ...flags], io);
    } catch (caught) {
      error = caught;
    }
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport;
    const written = `${stdout}${JSON.stringify(report)}`;
    assert.ok(!written.includes(SHARED_KEY), 'a key reached the output');
    return { stdout, report, ...(error !== undefined && { error }) };
  }

  async function withStore<T>(work: (store: Awaited<ReturnType<typeof openLocalStore>>['store']) => Promise<T>): Promise<T> {
    const local = await openLocalStore({ dataDir });
    try {
      return await work(local.store);
    } finally {
      await local.close();
    }
  }

  before(async () => {
    await withStore((store) => store.putProfile(PROFILE));
  });

  it('imports the first holder of a key as high entropy, and takes its fingerprint under a new 0600 pepper file', async () => {
    const { stdout, report, error } = await importRows('first', [row('dev-1', SHARED_KEY), row('lone-1', randomKey())]);
    assert.equal(error, undefined);
    assert.equal(stdout, 'imported 2 devices from ' + join(work, 'first.jsonl') + '\n');
    assert.deepEqual(report.lowEntropy, []);
    const pepperFile = join(dataDir, PEPPER_FILE);
    assert.equal(statSync(pepperFile).mode & 0o777, 0o600);
    const stored = await withStore((store) => store.getDevice('dev-1'));
    assert.equal(stored?.bootstrapCredentials?.keyFingerprint, keyFingerprint(Buffer.from(SHARED_KEY, 'hex'), readFileSync(pepperFile)));
  });

  it('lists the second holder, imported in another run, as low entropy (shared-key); the first then classifies low too', async () => {
    const pepper = readFileSync(join(dataDir, PEPPER_FILE));
    const { stdout, report, error } = await importRows('second', [row('dev-2', SHARED_KEY), row('lone-2', randomKey())]);
    assert.equal(error, undefined);
    assert.equal(
      stdout,
      `imported 2 devices from ${join(work, 'second.jsonl')}\n` +
        '1 device with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):\n' +
        '  line 1      dev-2                    shared-key\n',
    );
    assert.deepEqual(report.lowEntropy.map((low) => [low.endpoint, low.reasons]), [['dev-2', [{ code: 'shared-key', devices: 2, text: 'the same key is on 2 devices' }]]]);
    assert.deepEqual(readFileSync(join(dataDir, PEPPER_FILE)), pepper, 'the pepper is reused, not replaced');

    await withStore(async (store) => {
      const first = (await store.getDevice('dev-1'))!;
      const second = (await store.getDevice('dev-2'))!;
      assert.equal(first.bootstrapCredentials?.keyFingerprint, second.bootstrapCredentials?.keyFingerprint, 'same key, same pepper, same fingerprint');
      const classification = await classifyStoredDeviceKey(store, first);
      assert.equal(classification?.entropy, 'low');
      assert.deepEqual(classification?.reasons.map((reason) => reason.code), ['shared-key']);
      for (const endpoint of ['lone-1', 'lone-2']) assert.equal((await classifyStoredDeviceKey(store, (await store.getDevice(endpoint))!))?.entropy, 'high', endpoint);
    });
  });

  it('does not count a device as sharing its key with its own stored version when it is imported again', async () => {
    const { report, error } = await importRows('again', [row('lone-1', (await withStore((store) => store.getDevice('lone-1')))!.bootstrapCredentials!.secretKey!)]);
    assert.equal(error, undefined);
    assert.deepEqual(report.lowEntropy, []);
  });

  it('refuses a third holder with --refuse-low-entropy, writing nothing', async () => {
    const { stdout, error } = await importRows('third', [row('dev-3', SHARED_KEY)], ['--refuse-low-entropy']);
    assert.ok(error instanceof InputError);
    assert.equal(error.message, 'import refused: 1 of 1 rows rejected; nothing written');
    assert.match(stdout, /line 1 +dev-3 +bootstrapCredentials\.secretKey: low-entropy bootstrap key \(shared-key\): the same key is on 3 devices/);
    assert.equal(await withStore((store) => store.getDevice('dev-3')), undefined);
  });

  it('replaces a fingerprint a row brings with the one taken from its key', async () => {
    const forged = { endpoint: 'forged', profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: 'forged-bs', secretKey: randomKey(), keyFingerprint: 'ab'.repeat(32) } };
    const { report, error } = await importRows('forged', [forged]);
    assert.equal(error, undefined);
    assert.deepEqual(report.lowEntropy, []);
    const stored = await withStore((store) => store.getDevice('forged'));
    assert.notEqual(stored?.bootstrapCredentials?.keyFingerprint, 'ab'.repeat(32));
    assert.match(stored?.bootstrapCredentials?.keyFingerprint ?? '', /^[0-9a-f]{64}$/);
  });
});
