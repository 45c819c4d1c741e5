import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../cli/main.ts';
import { MAX_ATTACH_BODY_BYTES, type AttachIntakeResult } from '../../server/lifecycle/attach-intake.ts';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { SimulatedClient, type SimulatedClientOptions } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

// The local server's credential lifecycle on real UDP and HTTP over dynalite: a carrier attach
// posted to the intake pushes the bootstrap to a listening simulated client, and an account
// timeout written at bootstrap revokes the device's bootstrap PSK when the local scheduler fires.
describe('local lifecycle end to end: attach intake and account-timeout purges', () => {
  let work: string;
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let coapPort: number;
  let coapsPort: number;
  let attachUrl: string;
  const lifecycleLines: string[] = [];
  const bootstrapKey = new Uint8Array(randomBytes(16));

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = await mkdtemp(join(tmpdir(), 'lwm2m-bs-attach-e2e-'));
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({
      dataDir: join(work, 'data'),
      port: 0,
      coapsPort: 0,
      host4: '127.0.0.1',
      host6: false,
      attachPort: 0,
      requestTimeoutMs: 2000,
      initiateRetryDelaysMs: [200],
      lifecycleLog: (line) => lifecycleLines.push(line),
    });
    coapPort = server.gateway.coap.address('IPv4')!.port;
    coapsPort = server.gateway.coaps!.address('IPv4')!.port;
    attachUrl = server.attachUrl!;
    await server.store.putProfile(nosecProfile('fleet', lwm2m.port));
    await server.store.putDevice({ ...device('att-1', 'fleet'), identities: { imsi: '001010000000001' } });
    await server.store.putDevice({ ...device('att-cli', 'fleet'), identities: { imsi: '001010000000002' } });
    // The Bootstrap-Server account is rewritten with a 1 s Account Timeout (/0/0/12).
    await server.store.putProfile(nosecProfile('timed', lwm2m.port, { bootstrapServer: { uri: `coaps://127.0.0.1:${coapsPort}`, instanceId: 0, accountTimeout: 1 }, allowNoBootstrapAccount: true }));
    await server.store.putDevice({
      ...device('timed-1', 'timed'),
      bootstrapCredentials: { securityMode: 'psk', identity: 'timed-1-bs', secretKey: Buffer.from(bootstrapKey).toString('hex') },
    });
  });

  after(async () => {
    await server.close();
    await lwm2m.close();
    await rm(work, { recursive: true, force: true });
  });

  const listening = (endpoint: string, extra: Partial<SimulatedClientOptions> = {}): SimulatedClient =>
    new SimulatedClient({ endpoint, version: '1.1', bootstrapServer: { host: '127.0.0.1', port: coapPort }, serverInitiated: 'always', timeouts: { bootstrapIdleMs: 3000 }, ...extra });

  const event = (eventId: string, imsi: string, port: number, eventTime: string) => ({ eventId, eventTime, carrier: 'example-mno', imsi, address: '127.0.0.1', port });

  const post = async (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST', url = attachUrl) => {
    const response = await fetch(url, { method, headers, ...(method === 'POST' && { body }) });
    return { status: response.status, body: (await response.json()) as { results?: AttachIntakeResult[]; error?: string } };
  };

  it('an attach posted to the intake bootstraps the listening device without a Bootstrap-Request; it registers and the mark is cleared', async () => {
    const client = listening('att-1');
    try {
      const listener = await client.listen({ timeoutMs: 5000 });
      const answer = await post(JSON.stringify(event('e-1', '001010000000001', listener.port, '2026-11-23T10:00:00Z')));
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.results, [{ index: 0, eventId: 'e-1', outcome: 'initiated', endpoint: 'att-1', reasons: ['never-bootstrapped'] }]);
      const result = await listener.result;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'server-initiated');
      assert.ok(!result.steps.includes('bootstrap-request'));
      assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
      assert.ok(lwm2m.registrations().some((registration) => registration.endpoint === 'att-1'));
      const lifecycle = await eventually(async () => {
        const record = await server.store.getLifecycle('att-1');
        return record?.bootstrappedWith !== undefined ? record : undefined;
      });
      assert.equal(lifecycle.bootstrapNeeded, undefined);
      assert.equal(lifecycle.lastAttach?.port, listener.port);
      assert.equal((await server.store.getDevice('att-1'))?.status?.outcome, 'success');
    } finally {
      await client.close();
    }
  });

  it('a duplicate event and an older event change nothing and push nothing', async () => {
    const before = await server.store.getLifecycle('att-1');
    const initiated = server.gateway.counters()['bootstrapsInitiated'];
    const answer = await post(
      [event('e-1', '001010000000001', 40001, '2026-11-23T10:00:00Z'), event('e-0', '001010000000001', 40002, '2026-11-23T09:00:00Z')].map((one) => JSON.stringify(one)).join('\n'),
      { 'content-type': 'application/x-ndjson' },
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.results?.map((result) => result.outcome), ['ignored-duplicate', 'ignored-stale']);
    assert.deepEqual(await server.store.getLifecycle('att-1'), before);
    assert.equal(server.gateway.counters()['bootstrapsInitiated'], initiated);
  });

  it('answers 400, 403, 404, 405, 413 and 415 for what it does not take, and reports bad events one by one', async () => {
    assert.equal((await post('{"eventId": ')).status, 400);
    assert.equal((await post('[]')).status, 400);
    assert.equal((await post('{}', { 'content-type': 'application/json', origin: 'https://evil.example' })).status, 403);
    assert.equal((await post('{}', {}, 'POST', attachUrl.replace('/attach', '/other'))).status, 404);
    assert.equal((await post('', {}, 'GET')).status, 405);
    assert.equal((await post('{}', { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await post(`[${' '.repeat(MAX_ATTACH_BODY_BYTES)}]`)).status, 413);
    const mixed = await post(JSON.stringify([{ eventId: 'bad', port: 70000 }, event('e-u', '001019999999999', 40003, '2026-11-23T10:00:00Z')]));
    assert.equal(mixed.status, 200);
    const [invalid, unknown] = mixed.body.results ?? [];
    assert.equal(invalid?.outcome, 'invalid');
    assert.ok(invalid?.outcome === 'invalid' && invalid.issues.some((issue) => issue.field === 'port'));
    assert.deepEqual(unknown, { index: 1, eventId: 'e-u', outcome: 'unknown-device' });
  });

  it('`lwm2m-bs attach` against the running server goes through its intake, which pushes the bootstrap', async () => {
    const announced = JSON.parse(await readFile(join(work, 'data', 'server.json'), 'utf8')) as { attachUrl?: string };
    assert.equal(announced.attachUrl, attachUrl);
    const client = listening('att-cli');
    try {
      const listener = await client.listen({ timeoutMs: 5000 });
      const file = join(work, 'events.json');
      await writeFile(file, JSON.stringify([event('c-1', '001010000000002', listener.port, '2026-11-23T10:00:00Z')]));
      let stdout = '';
      let stderr = '';
      const status = await main(['attach', file, '--data-dir', join(work, 'data')], { stdout: (text) => (stdout += text), readStdin: async () => '' }, (text) => (stderr += text));
      assert.equal(status, 0, stderr);
      assert.equal(stdout, '[0] c-1: att-cli initiated (never-bootstrapped); bootstrap pushed through the gateway\n');
      const result = await listener.result;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'server-initiated');
      assert.ok(result.registeredAt);
    } finally {
      await client.close();
    }
  });

  it('an Account Timeout written at bootstrap revokes the bootstrap PSK when the local scheduler fires it', async () => {
    const run = async (): Promise<Awaited<ReturnType<SimulatedClient['run']>>> => {
      const client = new SimulatedClient({
        endpoint: 'timed-1',
        version: '1.1',
        bootstrapServer: { host: '127.0.0.1', port: coapsPort },
        bootstrapPsk: { identity: 'timed-1-bs', key: bootstrapKey },
        register: false,
        timeouts: { dtlsHandshakeMs: 2000 },
      });
      try {
        return await client.run();
      } finally {
        await client.close();
      }
    };
    const first = await run();
    assert.equal(first.ok, true, first.error);
    const pending = await eventually(async () => server.purges.pending().find((purge) => purge.endpoint === 'timed-1'));
    assert.equal(pending.pskIdentity, 'timed-1-bs');
    assert.equal(pending.reason, 'account-timeout');

    const purged = await eventually(async () => {
      const entry = await server.store.getDevice('timed-1');
      return entry?.bootstrapCredentials === undefined ? entry : undefined;
    });
    assert.deepEqual(purged?.revokedBootstrapIdentities?.map((revoked) => revoked.identity), ['timed-1-bs']);
    await eventually(async () => (lifecycleLines.some((line) => line.startsWith('lifecycle AccountPurged ') && line.includes('"timed-1"')) ? true : undefined));
    assert.ok(!lifecycleLines.join('\n').includes(Buffer.from(bootstrapKey).toString('hex')), 'a key reached the lifecycle log');
    // The schedule leaves the table once its handler resolved.
    await eventually(async () => (server.purges.pending().some((purge) => purge.endpoint === 'timed-1') ? undefined : true));

    const again = await run();
    assert.equal(again.ok, false);
    assert.deepEqual(again.steps, ['dtls-handshake']);
    assert.match(again.error ?? '', /decrypt_error/);
  });
});
