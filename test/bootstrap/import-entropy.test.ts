import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { importCommand, type ImportReport } from '../../cli/commands/import.ts';
import type { StoreOpener } from '../../cli/data-dir.ts';
import { InputError } from '../../cli/usage.ts';
import { admitDevice } from '../../shared/bootstrap/device-admission.ts';
import { classifyBatchKeys, DeviceImportValidator } from '../../shared/bootstrap/device-import.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';

const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coap://dm.example.com:5683' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});
const PEPPER = new Uint8Array(32).fill(7);
const IMEI = '490154203237518';

const randomKey = (): string => randomBytes(16).toString('hex');
/** The IMEI's digits packed two to a byte, padded with random bytes to 16: derived from it. */
const IMEI_KEY = `${`${IMEI}f`}${randomBytes(8).toString('hex')}`;
const SHARED_KEY = randomKey();
const PIN_KEY = randomKey();
const RANDOM_KEY = randomKey();
const KEYS = [IMEI_KEY, SHARED_KEY, PIN_KEY, RANDOM_KEY];

const row = (endpoint: string, secretKey: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  endpoint,
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey, ...extra },
});

const ROWS = [
  row('pin-1', PIN_KEY, { keyOrigin: 'pin' }),
  { ...row('imei-1', IMEI_KEY), identities: { imei: IMEI } },
  row('shared-1', SHARED_KEY),
  row('shared-2', SHARED_KEY),
  row('random-1', RANDOM_KEY, { keyOrigin: 'random' }),
  { endpoint: 'nosec-1', profile: 'fleet' },
];

async function validate(options: { refuseLowEntropy?: boolean } = {}): Promise<DeviceImportValidator> {
  const validator = new DeviceImportValidator({ profiles: new Map([[PROFILE.name, PROFILE]]), pepper: PEPPER, ...options });
  ROWS.forEach((input, index) => validator.add(input, { row: index + 1 }));
  await validator.classifyKeys();
  return validator;
}

describe('import key classification', () => {
  it('lists low-entropy devices with their reason codes and keeps them for import', async () => {
    const validator = await validate();
    assert.deepEqual(validator.rejected, []);
    assert.equal(validator.devices.length, ROWS.length);
    const codes = Object.fromEntries(validator.lowEntropy.map((low) => [low.endpoint, low.reasons.map((reason) => reason.code)]));
    assert.deepEqual(codes, {
      'pin-1': ['declared-low'],
      'imei-1': ['derived-from-identifier'],
      'shared-1': ['shared-key'],
      'shared-2': ['shared-key'],
    });
    const imei = validator.lowEntropy.find((low) => low.endpoint === 'imei-1');
    assert.deepEqual(imei?.reasons[0], { code: 'derived-from-identifier', identifier: 'imei', encoding: 'bcd', text: 'the key holds the IMEI as packed BCD' });
    assert.deepEqual(
      validator.lowEntropy.map(({ row }) => row),
      [1, 2, 3, 4],
    );
    const shared = validator.lowEntropy.find((low) => low.endpoint === 'shared-1')?.reasons[0];
    assert.ok(shared?.code === 'shared-key' && shared.devices === 2);
    const text = JSON.stringify(validator.lowEntropy);
    for (const key of KEYS) assert.ok(!text.includes(key), 'a key reached the classification');
  });

  it('refuses the low-entropy rows on their key field with --refuse-low-entropy', async () => {
    const validator = await validate({ refuseLowEntropy: true });
    assert.deepEqual(validator.devices.map((device) => device.endpoint), ['random-1', 'nosec-1']);
    assert.deepEqual(validator.lowEntropy, []);
    assert.deepEqual(
      validator.rejected.map(({ row, field }) => [row, field]),
      [
        [1, 'bootstrapCredentials.secretKey'],
        [2, 'bootstrapCredentials.secretKey'],
        [3, 'bootstrapCredentials.secretKey'],
        [4, 'bootstrapCredentials.secretKey'],
      ],
    );
    assert.match(validator.rejected[0]!.reason, /^low-entropy bootstrap key \(declared-low\): declared at import as derived from a PIN$/);
    assert.equal(validator.rejectedRows, 4);
  });

  it('counts a key as shared only among the devices kept, whatever the pepper', () => {
    const devices = [row('a', SHARED_KEY), row('b', SHARED_KEY), row('c', randomKey())].map((input, index) => ({
      device: deviceEntrySchema.parse(input),
      position: { row: index + 1 },
    }));
    assert.deepEqual(classifyBatchKeys(devices).map((low) => low.endpoint), ['a', 'b']);
    assert.deepEqual(classifyBatchKeys(devices.slice(1)), []);
  });
});

describe('admitDevice and low-entropy keys', () => {
  it('admits a device with a low-entropy key, naming the reasons, and a random one without', async () => {
    const store = new MemoryStore();
    await store.putProfile(PROFILE);
    const low = await admitDevice(store, { ...row('imei-1', IMEI_KEY, { keyOrigin: 'imei' }), identities: { imei: IMEI } });
    assert.ok(low.admitted);
    assert.deepEqual(low.lowEntropy?.map((reason) => reason.code), ['declared-low', 'derived-from-identifier']);
    assert.ok(!JSON.stringify(low.lowEntropy).includes(IMEI_KEY));
    const high = await admitDevice(store, row('random-1', RANDOM_KEY));
    assert.ok(high.admitted);
    assert.equal(high.lowEntropy, undefined);
  });
});

describe('lwm2m-bs import and low-entropy keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-bs-entropy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[]): Promise<{ stdout: string; store: MemoryStore; error?: unknown }> {
    const store = new MemoryStore();
    await store.putProfile(PROFILE);
    const open: StoreOpener = async () => ({ store, close: async () => undefined });
    let stdout = '';
    const io = { stdout: (text: string) => (stdout += text), stderr: () => undefined, readStdin: async () => '', stderrIsTTY: false };
    try {
      await importCommand(args, io, open);
      return { stdout, store };
    } catch (error) {
      return { stdout, store, error };
    }
  }

  const csv = join(dir, 'fleet.csv');
  writeFileSync(
    csv,
    [
      'endpoint,profile,imei,bootstrap_mode,bootstrap_identity,bootstrap_key,bootstrap_key_origin',
      `pin-1,fleet,,psk,pin-1-bs,${PIN_KEY},pin`,
      `imei-1,fleet,${IMEI},psk,imei-1-bs,${IMEI_KEY},`,
      `shared-1,fleet,,psk,shared-1-bs,${SHARED_KEY},`,
      `shared-2,fleet,,psk,shared-2-bs,${SHARED_KEY},`,
      `random-1,fleet,,psk,random-1-bs,${RANDOM_KEY},random`,
      '',
    ].join('\n'),
  );

  it('lists low-entropy devices on a dry run, by reason code and never by key', async () => {
    const reportFile = join(dir, 'report.json');
    const { stdout, store, error } = await run([csv, '--dry-run', '--report', reportFile]);
    assert.equal(error, undefined);
    assert.equal(
      stdout,
      [
        '5 devices valid; nothing written (--dry-run)',
        '4 devices with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):',
        '  line 2      pin-1                    declared-low',
        '  line 3      imei-1                   derived-from-identifier',
        '  line 4      shared-1                 shared-key',
        '  line 5      shared-2                 shared-key',
        '',
      ].join('\n'),
    );
    assert.equal(await store.getDevice('pin-1'), undefined);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport;
    assert.deepEqual(report.lowEntropy.map((low) => low.endpoint), ['pin-1', 'imei-1', 'shared-1', 'shared-2']);
    const written = `${stdout}${readFileSync(reportFile, 'utf8')}`;
    for (const key of KEYS) assert.ok(!written.includes(key), 'a key reached the report');
  });

  it('imports low-entropy devices by default, their declared origin kept', async () => {
    const { store, error } = await run([csv]);
    assert.equal(error, undefined);
    assert.equal((await store.getDevice('pin-1'))?.bootstrapCredentials?.keyOrigin, 'pin');
    assert.ok(await store.getDevice('shared-2'));
  });

  it('refuses the whole file with --refuse-low-entropy, naming the key column', async () => {
    const { stdout, store, error } = await run([csv, '--refuse-low-entropy']);
    assert.ok(error instanceof InputError);
    assert.equal(error.message, 'import refused: 4 of 5 rows rejected; nothing written');
    assert.match(stdout, /^4 problems in 4 rows:\n {2}line 2 +pin-1 +bootstrap_key: low-entropy bootstrap key \(declared-low\)/);
    assert.match(stdout, /line 4 +shared-1 +bootstrap_key: low-entropy bootstrap key \(shared-key\): the same key is on 2 devices/);
    assert.equal(await store.getDevice('random-1'), undefined);
    for (const key of KEYS) assert.ok(!stdout.includes(key));
  });
});
