import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdminApiClient, type AdminApiConnector } from '../../cli/admin-api-client.ts';
import { exportCommand } from '../../cli/commands/export.ts';
import { InputError } from '../../cli/usage.ts';
import type { FactoryExportAnswer } from '../../functions/admin/documents.ts';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent } from '../../shared/content/registry.ts';
import { flattenTree } from '../../shared/content/tree.ts';
import { formatPath, ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { functionEnvironment, httpApiEvent, lambdaContext, startGateway } from './fixtures.ts';

// GET /devices/{endpoint}/factory through the real admin-api handler on dynalite, and
// `lwm2m-bs export factory --endpoint` against it behind a plain HTTP stand-in for API Gateway
// (test/cli/remote-admin.test.ts checks the SigV4 side; here the answer is what matters).

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});
const device = (endpoint: string, profile = 'fleet', withServerKey = true) =>
  deviceEntrySchema.parse({
    endpoint,
    profile,
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BS_KEY },
    ...(withServerKey && { serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } } }),
  });

describe('GET /devices/{endpoint}/factory', () => {
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
    work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-admin-export-'));
    await store.putProfile(PROFILE);
    await store.putDevice(device('ep-1'));
    await store.putDevice(device('ep/2'));
    await store.putDevice(device('keyless', 'fleet', false));
    await store.putDevice(device('orphan', 'gone'));
  });
  after(async () => {
    await gateway.close();
    await env.close();
    rmSync(work, { recursive: true, force: true });
  });

  const call = async (endpoint: string, query?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; raw: string }> => {
    const result = await handler(httpApiEvent('GET', '/devices/{endpoint}/factory', { params: { endpoint }, ...(query !== undefined && { query }) }), context);
    assert.match(result.headers['content-type'] ?? '', /^application\/json/);
    return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown>, raw: result.body };
  };
  const fileOf = (answer: FactoryExportAnswer, name: string): Buffer => Buffer.from(answer.files.find((file) => file.name === name)!.base64, 'base64');

  it('answers the files as base64, secret resources left out and named by default', async () => {
    const { status, body, raw } = await call('ep-1');
    assert.equal(status, 200);
    const answer = body as unknown as FactoryExportAnswer;
    assert.equal(answer.endpoint, 'ep-1');
    assert.equal(answer.keysIncluded, false);
    assert.deepEqual([...answer.omittedSecrets].sort(), ['/0/0/5', '/0/1/5']);
    assert.deepEqual(answer.warnings, []);
    assert.deepEqual(answer.files.map((file) => [file.name, file.mediaType]), [
      ['bootstrap.senml.cbor', 'application/senml+cbor'],
      ['object-0-security.tlv', 'application/vnd.oma.lwm2m+tlv'],
      ['object-1-server.tlv', 'application/vnd.oma.lwm2m+tlv'],
      ['bootstrap.json', 'application/json'],
    ]);
    assert.ok(!raw.includes(BS_KEY) && !raw.includes(DM_KEY));
    for (const file of answer.files) assert.ok(!Buffer.from(file.base64, 'base64').toString('hex').includes(DM_KEY), file.name);
    const senml = new Map(flattenTree(decodeContent(ContentFormat.SENML_CBOR, fileOf(answer, 'bootstrap.senml.cbor'), ROOT_PATH)).map(({ path, value }) => [formatPath(path), value]));
    assert.deepEqual(senml.get('/0/0/0'), { type: 'string', value: 'coaps://bs.example.com:5684' });
    assert.equal(senml.has('/0/1/5'), false);
    assert.equal((await call('ep-1', { includeKeys: 'false' })).status, 200);
  });

  it('puts the keys in with includeKeys=true', async () => {
    const { status, body } = await call('ep/2', { includeKeys: 'true' });
    assert.equal(status, 200);
    const answer = body as unknown as FactoryExportAnswer;
    assert.equal(answer.keysIncluded, true);
    assert.deepEqual(answer.omittedSecrets, []);
    const senml = new Map(flattenTree(decodeContent(ContentFormat.SENML_CBOR, fileOf(answer, 'bootstrap.senml.cbor'), ROOT_PATH)).map(({ path, value }) => [formatPath(path), value]));
    assert.deepEqual(senml.get('/0/1/5'), { type: 'opaque', value: new Uint8Array(Buffer.from(DM_KEY, 'hex')) });
  });

  it('answers 404 for an unknown device, 422 with the fields for one that would not bootstrap, 400 for a bad query', async () => {
    const unknown = await call('nobody');
    assert.deepEqual([unknown.status, unknown.body], [404, { error: { code: 'not-found', message: 'no device "nobody"' } }]);
    const orphan = await call('orphan');
    assert.deepEqual([orphan.status, orphan.body], [422, { error: { code: 'unknown-profile', message: 'device orphan: no profile "gone"' } }]);
    const keyless = await call('keyless', { includeKeys: 'true' });
    assert.equal(keyless.status, 422);
    const error = keyless.body['error'] as { code: string; message: string; issues: { field: string; message: string }[] };
    assert.equal(error.code, 'invalid-configuration');
    assert.equal(error.message, 'device keyless would not bootstrap');
    assert.ok(error.issues.length > 0 && error.issues.every((issue) => issue.field.startsWith('device.serverCredentials.101')), JSON.stringify(error.issues));
    assert.ok(!keyless.raw.includes(BS_KEY));
    const bad = await call('ep-1', { includeKeys: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal((bad.body['error'] as { code: string }).code, 'bad-request');
  });

  describe('lwm2m-bs export factory --endpoint', () => {
    const connect: AdminApiConnector = (target) => new AdminApiClient({ ...target, credentials: async () => ({ accessKeyId: 'AKIDTEST', secretAccessKey: 'test' }) });
    const run = async (args: string[]): Promise<{ stdout: string; stderr: string }> => {
      let stdout = '';
      let stderr = '';
      const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), readStdin: async () => '' };
      const noStore = async () => assert.fail('a remote export opens no data directory');
      await exportCommand(['factory', ...args, '--endpoint', gateway.url, '--region', 'us-east-1'], io, noStore, connect);
      return { stdout, stderr };
    };

    it('writes the files the API answers, as the local export does', async () => {
      const out = join(work, 'remote');
      const { stdout } = await run(['ep-1', 'ep/2', '--out', out]);
      assert.match(stdout, /^ep-1 -> .*ep-1: bootstrap\.senml\.cbor, object-0-security\.tlv, object-1-server\.tlv, bootstrap\.json; secrets left out: /m);
      assert.deepEqual(readdirSync(out).sort(), ['ep%2F2', 'ep-1']);
      const answer = (await call('ep-1')).body as unknown as FactoryExportAnswer;
      const written = readFileSync(join(out, 'ep-1', 'bootstrap.senml.cbor'));
      assert.deepEqual(written, fileOf(answer, 'bootstrap.senml.cbor'));
      assert.equal(statSync(join(out, 'ep%2F2', 'object-0-security.tlv')).mode & 0o777, 0o600);
      assert.equal(statSync(join(out, 'ep%2F2')).mode & 0o777, 0o700);

      const keys = join(work, 'remote-keys');
      const { stderr } = await run(['ep-1', '--out', keys, '--include-keys']);
      assert.match(stderr, /hold secret keys/);
      assert.ok(readFileSync(join(keys, 'ep-1', 'bootstrap.json'), 'utf8').includes(DM_KEY));
    });

    it('exports a batch file against the profile the API holds', async () => {
      const batch = join(work, 'batch.json');
      writeFileSync(batch, JSON.stringify([{ ...device('b-1'), profile: undefined }, device('b-2')]));
      const out = join(work, 'remote-batch');
      const { stdout } = await run(['--devices', batch, '--profile', 'fleet', '--out', out]);
      assert.match(stdout, /exported 2 devices to .*; 4 secret resources left out/);
      assert.deepEqual(readdirSync(out).sort(), ['b-1', 'b-2']);
      assert.equal(await store.getDevice('b-1'), undefined, 'the batch is not stored');
      await assert.rejects(run(['--devices', batch, '--out', out]), /--devices with --endpoint needs --profile/);
      await assert.rejects(run(['--devices', batch, '--profile', 'nope', '--out', join(work, 'nope')]), /no profile "nope"/);
      assert.equal(existsSync(join(work, 'nope')), false);
    });

    it('writes nothing when the API refuses one of the devices', async () => {
      const out = join(work, 'remote-refused');
      await assert.rejects(run(['ep-1', 'nobody', 'keyless', '--out', out]), (error) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /^no device "nobody"; device keyless would not bootstrap \(\d+ problems?\): device\.serverCredentials\.101.*; nothing written$/);
        return true;
      });
      assert.equal(existsSync(out), false);
    });
  });
});
