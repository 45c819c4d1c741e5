import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdminApiClient, type AdminApiConnector } from '../../cli/admin-api-client.ts';
import { exportCommand } from '../../cli/commands/export.ts';
import { InputError } from '../../cli/usage.ts';
import type { SmartcardExportAnswer } from '../../functions/admin/documents.ts';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { scp03KeyRecordSchema } from '../../shared/bootstrap/credentials.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { CardPaths, decodeCardImage, readCardBootstrap } from '../../shared/smartcard/card-image.ts';
import { keyCheckValue } from '../../shared/smartcard/scp03-keys.ts';
import { functionEnvironment, httpApiEvent, lambdaContext, startGateway } from './fixtures.ts';

// POST /devices/{endpoint}/smartcard through the real admin-api handler on dynalite, and
// `lwm2m-bs export smartcard --endpoint` against it behind a plain HTTP stand-in for API Gateway
// that passes request bodies on (fixtures.ts).

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const SCP03 = { keyVersion: 0x30, enc: '404142434445464748494a4b4c4d4e4f', mac: '505152535455565758595a5b5c5d5e5f', dek: '606162636465666768696a6b6c6d6e6f' };
const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});
const device = (endpoint: string, options: { profile?: string; serverKey?: boolean; scp03?: boolean } = {}) =>
  deviceEntrySchema.parse({
    endpoint,
    profile: options.profile ?? 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BS_KEY },
    ...(options.serverKey !== false && { serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } } }),
    ...(options.scp03 === true && { smartcard: { scp03: SCP03 } }),
  });

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('POST /devices/{endpoint}/smartcard', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof adminApiHandler;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let work = '';
  const context = lambdaContext('admin-api');

  before(async () => {
    env = await functionEnvironment();
    store = env.store;
    ({ handler } = await import('../../functions/admin-api.ts'));
    gateway = await startGateway(handler);
    work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-admin-smartcard-'));
    await store.putProfile(PROFILE);
    await store.putDevice(device('card-1', { scp03: true }));
    for (const endpoint of ['fresh-1', 'ep/2', 'r-1', 'r-2']) await store.putDevice(device(endpoint));
    await store.putDevice(device('keyless', { serverKey: false }));
    await store.putDevice(device('orphan', { profile: 'gone', scp03: true }));
  });
  after(async () => {
    await gateway.close();
    await env.close();
    rmSync(work, { recursive: true, force: true });
  });

  const call = async (endpoint: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; raw: string }> => {
    const event = httpApiEvent('POST', '/devices/{endpoint}/smartcard', { params: { endpoint }, body: typeof body === 'string' ? body : JSON.stringify(body), contentType: 'application/json' });
    const result = await handler(event, context);
    assert.match(result.headers['content-type'] ?? '', /^application\/json/);
    return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown>, raw: result.body };
  };
  const fileOf = (answer: SmartcardExportAnswer, name: string): Buffer => Buffer.from(answer.files.find((file) => file.name === name)!.base64, 'base64');
  const errorOf = (body: Record<string, unknown>) => body['error'] as { code: string; message: string; issues?: { field: string; message: string }[] };

  it('answers the card image, the EF and the stored SCP03 keys', async () => {
    const { status, body } = await call('card-1', { includeKeys: true });
    assert.equal(status, 200);
    const answer = body as unknown as SmartcardExportAnswer;
    assert.equal(answer.endpoint, 'card-1');
    assert.equal(answer.scp03Generated, false);
    assert.deepEqual(answer.files.map((file) => [file.name, file.mediaType]), [
      ['card-image.json', 'application/json'],
      ['lwm2m-bootstrap.bin', 'application/octet-stream'],
      ['scp03-keys.json', 'application/json'],
    ]);
    const card = readCardBootstrap(decodeCardImage(fileOf(answer, 'card-image.json').toString('utf8')));
    assert.equal(card.bootstrapPath, CardPaths.lwm2mBootstrap);
    const dm = card.bootstrap.security.find((instance) => instance.shortServerId === 101);
    assert.equal(dm?.serverUri, 'coaps://dm.example.com:5684');
    assert.equal(hex(dm.secretKey), DM_KEY);
    const { kcv, ...record } = JSON.parse(fileOf(answer, 'scp03-keys.json').toString('utf8')) as typeof SCP03 & { kcv: Record<string, string> };
    assert.deepEqual(scp03KeyRecordSchema.parse(record), SCP03);
    assert.equal(kcv['mac'], hex(keyCheckValue(Buffer.from(SCP03.mac, 'hex'))));
  });

  it('generates and stores keys only when asked, and never replaces stored ones', async () => {
    const refused = await call('fresh-1', { includeKeys: true });
    assert.equal(refused.status, 422);
    assert.deepEqual(errorOf(refused.body), {
      code: 'invalid-configuration',
      message: 'device fresh-1 has no SCP03 keys',
      issues: [{ field: 'smartcard.scp03', message: 'the device has no SCP03 keys; generateScp03Keys: true makes and stores them' }],
    });
    assert.equal((await store.getDevice('fresh-1'))?.smartcard, undefined);

    const generated = await call('fresh-1', { includeKeys: true, generateScp03Keys: true });
    assert.equal(generated.status, 200);
    assert.equal(generated.body['scp03Generated'], true);
    const stored = (await store.getDevice('fresh-1'))?.smartcard?.scp03;
    const sent = JSON.parse(fileOf(generated.body as unknown as SmartcardExportAnswer, 'scp03-keys.json').toString('utf8')) as typeof SCP03 & { kcv?: unknown };
    delete sent.kcv;
    assert.deepEqual(sent, stored);

    const again = await call('fresh-1', { includeKeys: true, generateScp03Keys: true });
    assert.equal(again.body['scp03Generated'], false);
    assert.deepEqual((await store.getDevice('fresh-1'))?.smartcard?.scp03, stored);
    assert.equal((await call('card-1', { includeKeys: true, generateScp03Keys: true })).body['scp03Generated'], false);
    assert.deepEqual((await store.getDevice('card-1'))?.smartcard?.scp03, SCP03);

    // The keys are hidden where devices are shown without showSecrets.
    const shown = await handler(httpApiEvent('GET', '/devices/{endpoint}', { params: { endpoint: 'fresh-1' } }), context);
    assert.ok(!shown.body.includes(stored!.enc));
  });

  it('answers 400 unless includeKeys is literally true, 404 for an unknown device, 422 for one that would not bootstrap', async () => {
    for (const body of [{}, { includeKeys: false }, { includeKeys: 'true' }]) {
      const bad = await call('card-1', body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.deepEqual(errorOf(bad.body).issues, [{ field: 'includeKeys', message: "must be true: a card's bootstrap file holds the device's keys, and so does the export" }]);
    }
    const extra = await call('card-1', { includeKeys: true, keyVersion: 1 });
    assert.deepEqual([extra.status, errorOf(extra.body).issues], [400, [{ field: 'keyVersion', message: 'not a known field' }]]);
    assert.equal((await call('card-1', 'not json')).status, 400);

    const unknown = await call('nobody', { includeKeys: true, generateScp03Keys: true });
    assert.deepEqual([unknown.status, unknown.body], [404, { error: { code: 'not-found', message: 'no device "nobody"' } }]);
    const orphan = await call('orphan', { includeKeys: true });
    assert.deepEqual([orphan.status, errorOf(orphan.body).code], [422, 'unknown-profile']);
    const keyless = await call('keyless', { includeKeys: true, generateScp03Keys: true });
    assert.equal(keyless.status, 422);
    assert.equal(errorOf(keyless.body).message, 'device keyless would not bootstrap');
    assert.ok(!keyless.raw.includes(BS_KEY));
    assert.equal((await store.getDevice('keyless'))?.smartcard, undefined, 'no keys stored for a device that cannot be exported');
  });

  describe('lwm2m-bs export smartcard --endpoint', () => {
    const connect: AdminApiConnector = (target) => new AdminApiClient({ ...target, credentials: async () => ({ accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }) });
    const run = async (args: string[]): Promise<{ stdout: string; stderr: string }> => {
      let stdout = '';
      let stderr = '';
      const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), readStdin: async () => '' };
      const noStore = async () => assert.fail('a remote export opens no data directory');
      await exportCommand(['smartcard', ...args, '--include-keys', '--endpoint', gateway.url, '--region', 'us-east-1'], io, noStore, connect);
      return { stdout, stderr };
    };

    it('writes the files the API answers, generating keys through it', async () => {
      const out = join(work, 'remote');
      const { stdout, stderr } = await run(['card-1', 'ep/2', '--out', out, '--generate-scp03-keys']);
      assert.match(stderr, /hold secret keys/);
      assert.match(stdout, /^card-1 -> .*card-1: card-image\.json, lwm2m-bootstrap\.bin, scp03-keys\.json; SCP03 key version 0x30, KCV /m);
      assert.match(stdout, /^ep\/2 -> .*ep%2F2: .*\(generated and stored\)$/m);
      assert.match(stdout, /SCP03 keys generated and stored for 1\n$/);
      assert.deepEqual(readdirSync(out).sort(), ['card-1', 'ep%2F2']);
      assert.equal(statSync(join(out, 'ep%2F2')).mode & 0o777, 0o700);
      assert.equal(statSync(join(out, 'ep%2F2', 'scp03-keys.json')).mode & 0o777, 0o600);
      const stored = (await store.getDevice('ep/2'))?.smartcard?.scp03;
      const written = JSON.parse(readFileSync(join(out, 'ep%2F2', 'scp03-keys.json'), 'utf8')) as typeof SCP03 & { kcv?: unknown };
      delete written.kcv;
      assert.deepEqual(written, stored);
      const answer = (await call('card-1', { includeKeys: true })).body as unknown as SmartcardExportAnswer;
      assert.deepEqual(readFileSync(join(out, 'card-1', 'lwm2m-bootstrap.bin')), fileOf(answer, 'lwm2m-bootstrap.bin'));
    });

    it('writes nothing and stores no keys when a device is refused', async () => {
      const out = join(work, 'remote-refused');
      await assert.rejects(run(['r-1', 'nobody', 'keyless', '--out', out, '--generate-scp03-keys']), (error) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /^no device "nobody"; device keyless would not bootstrap \(\d+ problems?\): device\.serverCredentials\.101.*; nothing written$/);
        return true;
      });
      await assert.rejects(run(['card-1', 'r-1', '--out', out]), /^InputError: device r-1 has no SCP03 keys \(--generate-scp03-keys makes and stores them\); nothing written$/);
      assert.equal(existsSync(out), false);
      assert.equal((await store.getDevice('r-1'))?.smartcard, undefined);
    });

    it('takes the generated keys back when writing fails', async () => {
      const out = join(work, 'remote-exists');
      await run(['card-1', '--out', out]);
      await assert.rejects(run(['r-2', 'card-1', '--out', out, '--generate-scp03-keys']), /card-1 already exists \(--force replaces it\); nothing written$/);
      const entry = await store.getDevice('r-2');
      assert.equal(entry?.smartcard, undefined, 'the device entry is as it was');
      // Put back through the API, which takes the bootstrap PSK's fingerprint as every device write does.
      assert.match(entry?.bootstrapCredentials?.keyFingerprint ?? '', /^[0-9a-f]{64}$/);
      assert.deepEqual({ ...entry, bootstrapCredentials: { ...entry?.bootstrapCredentials, keyFingerprint: undefined } }, { ...device('r-2'), bootstrapCredentials: { ...device('r-2').bootstrapCredentials, keyFingerprint: undefined } });
      assert.deepEqual(readdirSync(out), ['card-1']);
    });
  });
});
