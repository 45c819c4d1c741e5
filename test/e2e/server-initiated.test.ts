import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { parseCoapMessage } from '../../shared/coap/index.ts';
import type { BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import type { BootstrapInitiate } from '../../shared/bootstrap/contract.ts';
import { planServerInitiated } from '../../shared/bootstrap/server-initiated.ts';
import { inProcessBackend } from '../../server/gateway/backend-channel.ts';
import { BootstrapGateway, NO_DTLS_SESSION_DETAIL } from '../../server/gateway/bootstrap-gateway.ts';
import { PskCache, storePskSource } from '../../server/gateway/psk-cache.ts';
import { startDynalite, localDynamoDbClient } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { SimulatedClient, type SimulatedClientOptions } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

// Server Initiated Bootstrap on real UDP: the gateway pushes a plan to simulated clients that
// listen (at any time, or only while connected), retries a silent device with backoff, and
// over DTLS runs only inside a session the device holds.
describe('server-initiated bootstrap end to end', () => {
  let lwm2m: TestLwm2mServer;
  let gateway: BootstrapGateway;
  let store: DynamoDbBootstrapStore;
  let deps: BootstrapBackendDeps;
  let closeStore: () => Promise<void>;
  let coapPort: number;
  let coapsPort: number;
  const key = new Uint8Array(randomBytes(16));

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    const dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'server-initiated-e2e');
    store = new DynamoDbBootstrapStore({ client, tableName: 'server-initiated-e2e' });
    closeStore = async () => {
      client.destroy();
      await dynalite.close();
    };
    await store.putProfile(nosecProfile('fleet', lwm2m.port));
    for (const endpoint of ['always', 'windowed', 'silent', 'moved', 'no-session']) await store.putDevice(device(endpoint, 'fleet'));
    await store.putDevice({ ...device('dtls-held', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-held-id', secretKey: Buffer.from(key).toString('hex') } });
    await store.putDevice({ ...device('dtls-gone', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-gone-id', secretKey: Buffer.from(key).toString('hex') } });
    await store.putDevice({ ...device('dtls-none', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-none-id', secretKey: Buffer.from(key).toString('hex') } });
    deps = { store, newSessionId: randomUUID, now: () => new Date() };
    const fast = { host4: '127.0.0.1', host6: false as const, ackTimeoutMs: 100, ackRandomFactor: 1, maxRetransmit: 1 };
    gateway = await BootstrapGateway.start({
      gatewayId: 'local',
      backend: inProcessBackend(deps),
      coap: { port: 0, ...fast },
      coaps: { port: 0, ...fast, psk: new PskCache(storePskSource(store)) },
      requestTimeoutMs: 2000,
      initiateRetryDelaysMs: [50, 100, 150],
    });
    coapPort = gateway.coap.address('IPv4')!.port;
    coapsPort = gateway.coaps!.address('IPv4')!.port;
  });

  after(async () => {
    await gateway.close();
    await lwm2m.close();
    await closeStore();
  });

  const client = (endpoint: string, extra: Partial<SimulatedClientOptions> = {}): SimulatedClient =>
    new SimulatedClient({ endpoint, version: '1.1', bootstrapServer: { host: '127.0.0.1', port: coapPort }, timeouts: { bootstrapIdleMs: 3000 }, ...extra });

  const plan = async (endpoint: string, port: number): Promise<BootstrapInitiate> => {
    const planned = await planServerInitiated(deps, endpoint, { address: '127.0.0.1', port }, 'never-bootstrapped', { gatewayId: 'local' });
    assert.ok(planned.ok, planned.ok ? '' : planned.detail);
    return planned.downlink;
  };

  const statusOf = (endpoint: string, sessionId: string) =>
    eventually(async () => {
      const status = (await store.getDevice(endpoint))?.status;
      return status?.sessionId === sessionId ? status : undefined;
    });

  /** A UDP socket that takes every datagram and answers none: a device that is not there. */
  const silentPeer = async (): Promise<{ socket: Socket; port: number; messageIds: Set<number> }> => {
    const socket = createSocket('udp4');
    const messageIds = new Set<number>();
    socket.on('message', (datagram) => messageIds.add(parseCoapMessage(datagram).messageId));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return { socket, port: socket.address().port, messageIds };
  };

  it("bootstraps a client listening at any time ('always'), which then registers", async () => {
    const simulated = client('always', { serverInitiated: 'always' });
    const listener = await simulated.listen({ timeoutMs: 5000 });
    const downlink = await plan('always', listener.port);
    const outcome = await gateway.initiate(downlink);
    assert.equal(outcome.outcome, 'success', outcome.detail);
    const result = await listener.result;
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'server-initiated');
    assert.ok(!result.steps.includes('bootstrap-request'));
    assert.deepEqual(result.steps.slice(0, 2), ['listen', 'discover']);
    assert.ok(result.steps.includes('finish'));
    assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
    assert.ok(lwm2m.registrations().some((registration) => registration.endpoint === 'always'));
    const status = await statusOf('always', downlink.sessionId);
    assert.equal(status.outcome, 'success');
    assert.equal(status.kind, 'bs');
    assert.equal(status.clientVersion, '1.1');
    await simulated.close();
  });

  it("a 'while-connected' client refuses 4.01 outside its window and is served inside it", async () => {
    const simulated = client('windowed', { serverInitiated: 'while-connected', connectedWindowMs: 1500 });
    const listener = await simulated.listen({ timeoutMs: 8000 });

    const early = await plan('windowed', listener.port);
    const refused = await gateway.initiate(early);
    assert.equal(refused.outcome, 'client-error');
    assert.match(refused.detail ?? '', /4\.01/);
    assert.equal((await statusOf('windowed', early.sessionId)).outcome, 'client-error');
    const retriesBefore = gateway.counters().initiateRetries;

    // The client's own message to the Bootstrap-Server opens its bootstrap connection.
    await listener.ping();
    const inWindow = await plan('windowed', listener.port);
    const served = await gateway.initiate(inWindow);
    assert.equal(served.outcome, 'success', served.detail);
    const result = await listener.result;
    assert.equal(result.ok, true, result.error);
    assert.ok(result.steps.some((step) => /refused 4\.01 \(outside the bootstrap connection\)/.test(step)));
    assert.ok(result.registeredAt);
    assert.equal((await statusOf('windowed', inWindow.sessionId)).outcome, 'success');
    // A device that answered, even with a refusal, is not tried again.
    assert.equal(gateway.counters().initiateRetries, retriesBefore);
    await simulated.close();
  });

  it("retries a device that never answers after each backoff delay, then records 'timeout'", async () => {
    const silent = await silentPeer();
    try {
      const retries = gateway.counters().initiateRetries ?? 0;
      const downlink = await plan('silent', silent.port);
      const outcome = await gateway.initiate(downlink);
      assert.equal(outcome.outcome, 'timeout');
      assert.match(outcome.detail ?? '', /\(4 attempts\)/);
      assert.equal((gateway.counters().initiateRetries ?? 0) - retries, 3);
      // Four attempts of Bootstrap-Discover, each sent and retransmitted once.
      assert.ok(silent.messageIds.size >= 4, `saw ${silent.messageIds.size} messages`);
      const status = await statusOf('silent', downlink.sessionId);
      assert.equal(status.outcome, 'timeout');
    } finally {
      silent.socket.close();
    }
  });

  it('a newer initiate supersedes one still trying, and only the newer outcome is kept', async () => {
    const silent = await silentPeer();
    const simulated = client('moved', { serverInitiated: 'always' });
    try {
      const stale = gateway.initiate(await plan('moved', silent.port));
      await eventually(async () => (silent.messageIds.size > 0 ? true : undefined));
      const listener = await simulated.listen({ timeoutMs: 5000 });
      const current = await plan('moved', listener.port);
      const served = await gateway.initiate(current);
      assert.equal(served.outcome, 'success', served.detail);
      const superseded = await stale;
      assert.equal(superseded.outcome, 'cancelled');
      assert.match(superseded.detail ?? '', /superseded by a server-initiated bootstrap/);
      assert.equal((await listener.result).ok, true);
      assert.equal((await statusOf('moved', current.sessionId)).outcome, 'success');
    } finally {
      silent.socket.close();
      await simulated.close();
    }
  });

  it("over DTLS without a session with the device: 'no DTLS session' recorded at once, no retry", async () => {
    const retries = gateway.counters().initiateRetries ?? 0;
    const downlink = await plan('dtls-none', 40999);
    assert.equal(downlink.transport, 'dtls');
    const outcome = await gateway.initiate(downlink);
    assert.deepEqual(outcome, { outcome: 'client-error', detail: NO_DTLS_SESSION_DETAIL });
    assert.equal(gateway.counters().initiateRetries ?? 0, retries);
    const status = await statusOf('dtls-none', downlink.sessionId);
    assert.equal(status.outcome, 'client-error');
    assert.equal(status.detail, NO_DTLS_SESSION_DETAIL);
  });

  it('over DTLS inside the session the device holds: served, and only under its own identity', async () => {
    const simulated = client('dtls-held', {
      serverInitiated: 'while-connected',
      bootstrapServer: { host: '127.0.0.1', port: coapsPort },
      bootstrapPsk: { identity: 'dtls-held-id', key },
    });
    const listener = await simulated.listen({ timeoutMs: 5000 });
    await listener.ping();
    // Another device's identity at that address gets nothing.
    const foreign = { ...(await plan('dtls-held', listener.port)), pskIdentity: 'someone-else' };
    assert.equal((await gateway.initiate(foreign)).detail, NO_DTLS_SESSION_DETAIL);

    const downlink = await plan('dtls-held', listener.port);
    const outcome = await gateway.initiate(downlink);
    assert.equal(outcome.outcome, 'success', outcome.detail);
    const result = await listener.result;
    assert.equal(result.ok, true, result.error);
    assert.ok(result.steps.includes('dtls-handshake'));
    assert.equal((await statusOf('dtls-held', downlink.sessionId)).outcome, 'success');
    await simulated.close();
  });

  it('over DTLS after the device closed its session: the send finds none and records it, no retry', async () => {
    const simulated = client('dtls-gone', {
      bootstrapServer: { host: '127.0.0.1', port: coapsPort },
      bootstrapPsk: { identity: 'dtls-gone-id', key },
    });
    const listener = await simulated.listen({ timeoutMs: 5000 });
    await listener.ping();
    listener.stop();
    assert.equal((await listener.result).error, 'stopped listening');
    const retries = gateway.counters().initiateRetries ?? 0;
    const sendErrors = gateway.coaps!.counters().sendErrors ?? 0;
    const downlink = await plan('dtls-gone', listener.port);
    const outcome = await gateway.initiate(downlink);
    assert.deepEqual(outcome, { outcome: 'client-error', detail: NO_DTLS_SESSION_DETAIL });
    // The gateway had heard from that session, so it tried; the DTLS server had none to send in.
    assert.equal((gateway.coaps!.counters().sendErrors ?? 0) - sendErrors, 1);
    assert.equal(gateway.counters().initiateRetries ?? 0, retries);
    assert.equal((await statusOf('dtls-gone', downlink.sessionId)).detail, NO_DTLS_SESSION_DETAIL);
    await simulated.close();
  });

  it('a gateway closing while a silent device waits for its retry records the attempt as cancelled', async () => {
    const silent = await silentPeer();
    const closing = await BootstrapGateway.start({
      gatewayId: 'local',
      backend: inProcessBackend(deps),
      coap: { port: 0, host4: '127.0.0.1', host6: false, ackTimeoutMs: 50, ackRandomFactor: 1, maxRetransmit: 0 },
      requestTimeoutMs: 2000,
      initiateRetryDelaysMs: [60_000],
    });
    try {
      const downlink = await plan('silent', silent.port);
      const pending = closing.initiate(downlink);
      await eventually(async () => ((closing.counters().initiateRetries ?? 0) === 1 ? true : undefined));
      await closing.close();
      assert.deepEqual(await pending, { outcome: 'cancelled', detail: 'server shutting down' });
      assert.equal((await statusOf('silent', downlink.sessionId)).outcome, 'cancelled');
      await assert.rejects(closing.initiate(await plan('silent', silent.port)), /closing/);
    } finally {
      silent.socket.close();
    }
  });

  it('refuses a downlink meant for another gateway', async () => {
    const downlink = await plan('no-session', 40998);
    await assert.rejects(gateway.initiate({ ...downlink, gatewayId: 'other' }), /meant for gateway other/);
  });
});
