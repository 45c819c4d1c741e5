import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes, type Hash, type Hmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { AdminApiClient, resolveAdminApiTarget, type AdminApiConnector } from '../../cli/admin-api-client.ts';
import { deviceCommand } from '../../cli/commands/device.ts';
import { importCommand } from '../../cli/commands/import.ts';
import { profileCommand } from '../../cli/commands/profile.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import type { StoreOpener } from '../../cli/data-dir.ts';
import { InputError, UsageError } from '../../cli/usage.ts';
import type { HttpApiEvent } from '../../functions/admin/http.ts';
import { matchRoute, routeKey } from '../../functions/admin/routes.ts';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';
import { functionEnvironment, lambdaContext } from '../functions/fixtures.ts';

// The CLI with --endpoint against the real admin-api handler (functions/admin-api.ts, on
// dynalite) behind a small HTTP server. API Gateway's IAM authorization cannot run here, so the
// server stands in for it: it re-signs each request with SignatureV4 and the test credentials
// and answers 403, as API Gateway does, unless the Authorization header matches; then it hands
// the handler the payload format 2.0 event API Gateway would. The same commands also run
// locally (in process, on a memory store) to show that the output is the same either way.

const ACCESS_KEY_ID = 'AKIDREMOTETEST';
const SECRET_ACCESS_KEY = 'remote/test/secret+key';
const REGION = 'us-east-1';
const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const PROFILE = { name: 'fleet', description: 'PSK fleet', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }] };
const DEVICE = {
  endpoint: 'ep-1',
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: 'ep-1-bs', secretKey: BS_KEY },
  serverCredentials: { '101': { identity: 'ep-1', secretKey: DM_KEY } },
};
const CSV_HEADER = 'endpoint,profile,imsi,bootstrap_mode,bootstrap_identity,bootstrap_key,server.101.identity,server.101.key';
const csvRow = (endpoint: string, bsIdentity = `${endpoint}-bs`, bsKey = BS_KEY): string => `${endpoint},fleet,,psk,${bsIdentity},${bsKey},${endpoint},${DM_KEY}`;

/** The test's own SHA-256 for SignatureV4, so checking a signature shares no code with making it. */
class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(key?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = key === undefined ? createHash('sha256') : createHmac('sha256', typeof key === 'string' ? key : Buffer.from(ArrayBuffer.isView(key) ? key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength) : key));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : Buffer.from(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

/** What API Gateway's IAM authorization checks of a SigV4 request (not the IAM policy): the verdict, or a reason for the 403. */
async function verifySignature(request: IncomingMessage, rawPath: string, query: URLSearchParams, body: string): Promise<string | undefined> {
  const authorization = request.headers.authorization ?? '';
  const parts = AUTHORIZATION.exec(authorization);
  if (parts === null) return 'Missing Authentication Token';
  const [, keyId, , region, service, signedHeaders] = parts;
  if (keyId !== ACCESS_KEY_ID) return 'The security token included in the request is invalid.';
  if (region !== REGION || service !== 'execute-api') return 'Credential should be scoped to a valid region and service.';
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(request.headers['x-amz-date']));
  if (amzDate === null) return 'Missing X-Amz-Date';
  const [, year, month, day, hour, minute, second] = amzDate.map(Number) as number[];
  const signingDate = new Date(Date.UTC(year!, month! - 1, day, hour, minute, second));
  // Only the headers the client signed, and not its payload hash: the body's own hash is signed here instead.
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) if (name !== 'x-amz-content-sha256') headers[name] = String(request.headers[name] ?? '');
  const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }, sha256: Sha256 });
  const expected = await signer.sign(
    { method: request.method!, protocol: 'http:', hostname: '127.0.0.1', path: rawPath, query: Object.fromEntries(query), headers, ...(body !== '' && { body }) },
    { signingDate },
  );
  return expected.headers['authorization'] === authorization ? undefined : 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this request should have been ...';
}

/** The payload format 2.0 event API Gateway builds for a declared route. */
function httpApiEvent(request: IncomingMessage, rawPath: string, query: URLSearchParams, body: string): HttpApiEvent {
  const method = request.method!;
  const matched = matchRoute(method, rawPath);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  const queryParameters: Record<string, string> = {};
  for (const name of new Set(query.keys())) queryParameters[name] = query.getAll(name).join(',');
  return {
    version: '2.0',
    routeKey: matched === undefined ? '$default' : routeKey(matched.route),
    rawPath,
    rawQueryString: query.toString(),
    headers,
    ...(query.size > 0 && { queryStringParameters: queryParameters }),
    ...(matched !== undefined && Object.keys(matched.params).length > 0 && { pathParameters: matched.params }),
    requestContext: { http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' }, stage: '$default', requestId: 'test' },
    ...(body !== '' && { body }),
    isBase64Encoded: false,
  };
}

async function startGateway(handler: typeof adminApiHandler): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const context = lambdaContext('admin-api');
  const gateway = {
    url: '',
    requests: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        const refusal = await verifySignature(request, url.pathname, url.searchParams, body);
        if (refusal !== undefined) {
          response.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ message: refusal }));
          return;
        }
        gateway.requests += 1;
        const result = await handler(httpApiEvent(request, url.pathname, url.searchParams, body), context);
        response.writeHead(result.statusCode, result.headers).end(result.body);
      })().catch((error: unknown) => response.writeHead(500).end(String(error)));
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gateway;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real CLI in a child process, with only the test credentials in its environment (no profile, no instance role). */
function cli(gateway: string, args: string[], options: { secret?: string; home: string }): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_') && !name.startsWith('LWM2M_BS_')) env[name] = value;
  Object.assign(env, {
    HOME: options.home,
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: options.secret ?? SECRET_ACCESS_KEY,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--endpoint', gateway, '--region', REGION], { env, cwd: options.home }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

type Command = (args: string[], io: Parameters<typeof importCommand>[1], open: StoreOpener, connect: AdminApiConnector) => Promise<void>;

const testCredentials: AdminApiConnector = (target) => new AdminApiClient({ ...target, credentials: async () => ({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }) });

/**
 * A command in process, as the real CLI would run it: its exit code, what it prints on stdout,
 * and on stderr its warnings then the line main prints for a failure. Locally on a memory store,
 * or (args with --endpoint) through the gateway with the test credentials: each child process
 * costs a second of start-up, so only the main paths spawn the real CLI.
 */
async function inProcess(store: MemoryStore, command: Command, args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), readStdin: async () => '', stderrIsTTY: false };
  try {
    await command(args, io, async () => ({ store, close: async () => undefined }), testCredentials);
    return { code: 0, stdout, stderr };
  } catch (error) {
    assert.ok(error instanceof InputError, String(error));
    return { code: 1, stdout, stderr: `${stderr}lwm2m-bs: ${error.message}\n` };
  }
}

describe('the operator commands with --endpoint (admin API, SigV4)', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let dir: string;
  const localStore = new MemoryStore();
  const run = (args: string[], secret?: string): Promise<Run> => cli(gateway.url, args, { home: dir, ...(secret !== undefined && { secret }) });
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  before(async () => {
    env = await functionEnvironment();
    store = env.store;
    const { handler } = await import('../../functions/admin-api.ts');
    gateway = await startGateway(handler);
    dir = mkdtempSync(join(tmpdir(), 'lwm2m-bs-remote-'));
  });
  after(async () => {
    await gateway.close();
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** In process through the gateway: the command with --endpoint, as `run` gives it. */
  const remote = (command: Command, args: string[]): Promise<Run> => inProcess(new MemoryStore(), command, [...args, '--endpoint', gateway.url, '--region', REGION]);
  const expectLocal = (command: Command, args: string[]): Promise<Run> => inProcess(localStore, command, args);

  /**
   * The answer without bootstrap PSK fingerprints: the deployed side takes them with KMS, a local
   * side with its data directory's pepper (or not at all, for `device put`), so they differ.
   */
  const sansFingerprint = <T extends { stdout: string }>(answer: T): T => ({ ...answer, stdout: answer.stdout.replace(/,\n?\s*"keyFingerprint": ?"[0-9a-f]{64}"/g, '') });

  it('puts, reads and lists profiles and devices, hiding keys unless asked, as the local commands print them', async () => {
    const profileFile = file('profile.json', JSON.stringify(PROFILE));
    const deviceFile = file('device.json', JSON.stringify(DEVICE));
    const badFile = file('bad.json', JSON.stringify({ name: 'bad', servers: [{ shortServerId: 0, uri: 'coaps://x', colour: 'red' }] }));

    const put = await run(['profile', 'put', profileFile]);
    assert.deepEqual(put, await expectLocal(profileCommand, ['put', profileFile]));
    assert.equal(put.stdout, 'profile fleet stored (101 coaps://dm.example.com:5684 psk)\n');
    const devicePut = await run(['device', 'put', deviceFile]);
    assert.deepEqual(devicePut, await expectLocal(deviceCommand, ['put', deviceFile]));
    // The fixture's key counts up: the warning the server's lowEntropy gives, as the local one.
    assert.match(devicePut.stderr, /^lwm2m-bs: warning: device ep-1: low-entropy bootstrap key \(repeated-pattern\): .*; stored all the same/);
    assert.equal((await store.getDevice('ep-1'))?.bootstrapCredentials?.identity, 'ep-1-bs', 'the device is in the deployed table');

    const [got, listed, redacted, shown] = await Promise.all([
      run(['profile', 'get', 'fleet']),
      run(['profile', 'list']),
      run(['device', 'get', 'ep-1']),
      run(['device', 'get', 'ep-1', '--show-secrets']),
    ]);
    assert.deepEqual(got, await expectLocal(profileCommand, ['get', 'fleet']));
    assert.deepEqual(listed, await expectLocal(profileCommand, ['list']));
    assert.match(listed!.stdout, /^fleet +101 coaps:\/\/dm\.example\.com:5684 psk {2}PSK fleet\n$/);
    assert.match(redacted!.stdout, /"keyFingerprint": "[0-9a-f]{64}"/, 'not secret without the KMS key: shown');
    assert.deepEqual(sansFingerprint(redacted!), sansFingerprint(await expectLocal(deviceCommand, ['get', 'ep-1'])));
    assert.match(redacted!.stdout, /"secretKey": "\(hidden: 16 bytes\)"/);
    assert.ok(!redacted!.stdout.includes(BS_KEY) && !redacted!.stdout.includes(DM_KEY));
    assert.deepEqual(sansFingerprint(shown!), sansFingerprint(await expectLocal(deviceCommand, ['get', 'ep-1', '--show-secrets'])));
    assert.ok(shown!.stdout.includes(BS_KEY) && shown!.stdout.includes(DM_KEY), '--show-secrets is ?showSecrets=true');

    const cases: [Command, string[]][] = [
      [profileCommand, ['list', '--json']],
      [deviceCommand, ['list']],
      [deviceCommand, ['list', '--json']],
      [deviceCommand, ['list', '--profile', 'other']],
      [statusCommand, ['ep-1']],
      [deviceCommand, ['get', 'nope']],
      [profileCommand, ['delete', 'nope']],
      [profileCommand, ['put', badFile]],
    ];
    for (const [command, args] of cases) assert.deepEqual(sansFingerprint(await remote(command, args)), sansFingerprint(await expectLocal(command, args)), args.join(' '));
    assert.equal((await remote(deviceCommand, ['get', 'nope'])).stderr, 'lwm2m-bs: no device "nope"\n');
    assert.match((await remote(profileCommand, ['put', badFile])).stderr, /^lwm2m-bs: invalid profile \(2 problems\): servers\[0\]\.shortServerId: .*; servers\[0\]\.colour: not a known field\n$/);
    assert.ok(!(await remote(deviceCommand, ['list', '--json'])).stdout.includes(BS_KEY));
  });

  it('imports a CSV file all or nothing, reporting a bad row on its line and column', async () => {
    const refusedFile = file('refused.csv', [CSV_HEADER, csvRow('ep-2'), csvRow('ep-3', 'ep-2-bs'), csvRow('ep-4'), ''].join('\n'));
    const refused = await run(['import', refusedFile]);
    assert.deepEqual(refused, await expectLocal(importCommand, [refusedFile]));
    assert.equal(refused.stdout, `1 problems in 1 rows:\n  line 3      ep-3                     bootstrap_identity: same bootstrap PSK identity as line 2 (endpoint ep-2)\n`);
    assert.equal(refused.stderr, 'lwm2m-bs: import refused: 1 of 3 rows rejected; nothing written\n');
    assert.ok(!`${refused.stdout}${refused.stderr}`.includes(BS_KEY));
    assert.equal(await store.getDevice('ep-2'), undefined, 'nothing written');

    // A row the CLI cannot read (wrong field count) is refused here; the others still get the server's verdict.
    const unreadable = file('unreadable.csv', [CSV_HEADER, csvRow('ep-2'), 'ep-3,fleet', csvRow('ep-4', 'ep-2-bs', '0011'), ''].join('\n'));
    const both = await remote(importCommand, [unreadable]);
    assert.deepEqual(both, await expectLocal(importCommand, [unreadable]));
    assert.match(both.stdout, /^3 problems in 2 rows:\n {2}line 3 .*\(row\): has 2 fields, the header has 8\n {2}line 4 .*bootstrap_identity: .*line 2.*\n {2}line 4 .*bootstrap_key: /);
    assert.equal(await store.getDevice('ep-2'), undefined, 'nothing written');

    const jsonl = file('fleet.jsonl', `${JSON.stringify({ ...DEVICE, endpoint: 'ep-5', bootstrapCredentials: { ...DEVICE.bootstrapCredentials, identity: 'ep-5-bs' } })}\n\n{"endpoint":\n`);
    assert.deepEqual(await remote(importCommand, [jsonl, '--json']), await expectLocal(importCommand, [jsonl, '--json']));

    const goodFile = file('good.csv', [CSV_HEADER, csvRow('ep-2'), csvRow('ep-3'), ''].join('\n'));
    // Both rows carry the fixture's one patterned key: classified locally from the file, never sent back.
    const lowEntropy =
      '2 devices with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):\n' +
      `  line 2      ${'ep-2'.padEnd(25)}repeated-pattern, shared-key\n` +
      `  line 3      ${'ep-3'.padEnd(25)}repeated-pattern, shared-key\n`;
    assert.deepEqual(await remote(importCommand, [goodFile, '--dry-run']), { code: 0, stdout: '2 devices valid; nothing written (--dry-run)\n' + lowEntropy, stderr: '' });
    assert.equal(await store.getDevice('ep-2'), undefined, 'a dry run writes nothing');
    assert.deepEqual(await remote(importCommand, [goodFile]), { code: 0, stdout: `imported 2 devices from ${goodFile}\n` + lowEntropy, stderr: '' });
    assert.equal((await store.getDevice('ep-3'))?.profile, 'fleet');
  });

  it('warns on device put and refuses an import with --refuse-low-entropy for a key another stored device holds, as locally', async () => {
    const sharedKey = randomBytes(16).toString('hex');
    const holder = (endpoint: string) => ({
      endpoint,
      profile: 'fleet',
      bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: sharedKey },
      serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } },
    });
    // The same devices on both sides, so both count the same holders.
    const holderFile = file('holder.json', JSON.stringify(holder('holder-1')));
    const first = await remote(deviceCommand, ['put', holderFile]);
    assert.deepEqual(first, await expectLocal(deviceCommand, ['put', holderFile]));
    assert.deepEqual(first, { code: 0, stdout: 'device holder-1 stored (profile fleet)\n', stderr: '' }, 'a random key alone is no warning');

    const secondFile = file('holder-2.json', JSON.stringify(holder('holder-2')));
    const second = await remote(deviceCommand, ['put', secondFile, '--json']);
    assert.deepEqual(second, await expectLocal(deviceCommand, ['put', secondFile, '--json']));
    assert.equal(
      second.stderr,
      'lwm2m-bs: warning: device holder-2: low-entropy bootstrap key (shared-key): the same key is on 2 devices; stored all the same, its Bootstrap-Server account is replaced at its next bootstrap\n',
    );
    assert.deepEqual(JSON.parse(second.stdout), { stored: 'device', endpoint: 'holder-2', profile: 'fleet', lowEntropy: [{ code: 'shared-key', devices: 2, text: 'the same key is on 2 devices' }] });

    // Only the stored devices share the key with ep-9: the file's rows alone are all high entropy.
    const csv = file('shared.csv', [CSV_HEADER, csvRow('ep-8', 'ep-8-bs', randomBytes(16).toString('hex')), csvRow('ep-9', 'ep-9-bs', sharedKey), ''].join('\n'));
    const refused = await run(['import', csv, '--refuse-low-entropy']);
    assert.deepEqual(refused, await expectLocal(importCommand, [csv, '--refuse-low-entropy']));
    assert.equal(refused.stdout, '1 problems in 1 rows:\n  line 3      ep-9                     bootstrap_key: low-entropy bootstrap key (shared-key): the same key is on 3 devices\n');
    assert.equal(refused.stderr, 'lwm2m-bs: import refused: 1 of 2 rows rejected; nothing written\n');
    assert.ok(!`${refused.stdout}${refused.stderr}`.includes(sharedKey));
    assert.equal(await store.getDevice('ep-8'), undefined, 'nothing written');
    const report = await remote(importCommand, [csv, '--refuse-low-entropy', '--dry-run', '--json']);
    assert.deepEqual(report, await expectLocal(importCommand, [csv, '--refuse-low-entropy', '--dry-run', '--json']));

    // Without the flag both import, listing the shared key.
    const imported = await remote(importCommand, [csv]);
    assert.deepEqual(imported, await expectLocal(importCommand, [csv]));
    assert.equal(imported.stdout, `imported 2 devices from ${csv}\n1 device with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):\n  line 3      ep-9                     shared-key\n`);
    assert.equal((await store.getDevice('ep-9'))?.profile, 'fleet');
  });

  it('shows a recorded bootstrap, and refuses a request signed with the wrong secret on one line', async () => {
    const status = { sessionId: 's-1', outcome: 'success', startedAt: '2026-01-02T03:04:05.000Z', endedAt: '2026-01-02T03:04:06.000Z', kind: 'bs', clientVersion: '1.1', contentFormat: 112 } as const;
    await store.recordStatus('ep-1', status);
    await localStore.recordStatus('ep-1', status);
    const before = gateway.requests;
    const [shown, forged] = await Promise.all([run(['status', 'ep-1']), run(['device', 'get', 'ep-1', '--show-secrets'], 'not-the-secret')]);
    assert.deepEqual(shown, await expectLocal(statusCommand, ['ep-1']));
    assert.match(shown.stdout, /^outcome {2}success\n/m);
    assert.deepEqual(await remote(statusCommand, ['ep-1', '--json']), await expectLocal(statusCommand, ['ep-1', '--json']));

    assert.equal(forged.code, 1);
    assert.equal(forged.stdout, '');
    assert.equal(forged.stderr, 'lwm2m-bs: the admin API answered 403: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n');
    assert.ok(!forged.stderr.includes('not-the-secret') && !forged.stderr.includes(BS_KEY));
    assert.equal(gateway.requests, before + 2, 'the forged request never reached the function');
  });
});

describe('choosing the deployed admin API', () => {
  const target = (flags: Parameters<typeof resolveAdminApiTarget>[0], env: NodeJS.ProcessEnv = {}) => {
    const chosen = resolveAdminApiTarget(flags, env);
    return chosen === undefined ? undefined : { endpoint: chosen.endpoint.href, region: chosen.region };
  };

  it('takes the region from --region, else the execute-api host, else AWS_REGION', () => {
    const api = 'https://abc123.execute-api.eu-central-1.amazonaws.com/';
    assert.deepEqual(target({ endpoint: api }), { endpoint: 'https://abc123.execute-api.eu-central-1.amazonaws.com/', region: 'eu-central-1' });
    assert.deepEqual(target({ endpoint: api, region: 'us-west-2' }), { endpoint: 'https://abc123.execute-api.eu-central-1.amazonaws.com/', region: 'us-west-2' });
    assert.deepEqual(target({ endpoint: 'https://admin.example.com/prod/' }, { AWS_REGION: 'ap-south-1' }), { endpoint: 'https://admin.example.com/prod', region: 'ap-south-1' });
    assert.throws(() => target({ endpoint: 'https://admin.example.com' }), UsageError);
  });

  it('reads LWM2M_BS_ENDPOINT unless --data-dir names a directory, and stays local without either', () => {
    const env = { LWM2M_BS_ENDPOINT: 'https://abc123.execute-api.us-east-1.amazonaws.com' };
    assert.equal(target({}, env)?.region, 'us-east-1');
    assert.equal(target({ dataDir: './data' }, env), undefined);
    assert.equal(target({}), undefined);
    assert.throws(() => target({ endpoint: env.LWM2M_BS_ENDPOINT, dataDir: './data' }), /exclude each other/);
    assert.throws(() => target({ region: 'us-east-1' }), /--region goes with --endpoint/);
  });

  it('refuses plain http except to this machine', () => {
    assert.throws(() => target({ endpoint: 'http://abc123.execute-api.us-east-1.amazonaws.com' }), /https/);
    assert.equal(target({ endpoint: 'http://127.0.0.1:3000', region: 'us-east-1' })?.endpoint, 'http://127.0.0.1:3000/');
    assert.throws(() => target({ endpoint: 'not a url' }), UsageError);
  });
});
