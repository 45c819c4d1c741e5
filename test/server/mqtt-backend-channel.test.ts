import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import type { BootstrapEnded, BootstrapRequested, Downlink, Uplink } from '../../shared/bootstrap/contract.ts';
import { BackendChannelError, MqttBackendChannel, type MqttChannelLogEvent } from '../../server/gateway/mqtt-backend-channel.ts';
import { eventually } from '../e2e/fixtures.ts';
import { startBroker } from '../functions/fixtures.ts';

// The MQTT channel against a real MQTT 3.1.1 broker (aedes, in process, standing in for IoT
// Core). A second MQTT client plays the backend, answering uplinks as each test scripts it.
// Nothing is mocked.
describe('MQTT backend channel', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let backend: MqttClient;
  /** What the scripted backend does with each uplink it receives. */
  let answer: (uplink: Uplink) => (Downlink | string)[] = () => [];
  const channels: MqttBackendChannel[] = [];

  before(async () => {
    broker = await startBroker();
    backend = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'backend', reconnectPeriod: 0 });
    await backend.subscribeAsync('lwm2m-bs/gateways/+/uplink', { qos: 1 });
    backend.on('message', (topic, payload) => {
      const gatewayId = topic.split('/')[2]!;
      for (const reply of answer(JSON.parse(payload.toString('utf8')) as Uplink)) {
        void backend.publishAsync(`lwm2m-bs/gateways/${gatewayId}/downlink`, typeof reply === 'string' ? reply : JSON.stringify(reply), { qos: 1 });
      }
    });
  });
  afterEach(async () => {
    await Promise.all(channels.splice(0).map((channel) => channel.close()));
    answer = () => [];
  });
  after(async () => {
    await backend.endAsync();
    await broker.close();
  });

  const open = async (gatewayId: string, extra: Partial<Parameters<typeof MqttBackendChannel.connect>[0]> = {}) => {
    const channel = await MqttBackendChannel.connect({ url: broker.url, gatewayId, timeoutMs: 2_000, ...extra });
    channels.push(channel);
    return channel;
  };
  const requested = (gatewayId: string, requestId: string, endpoint = `ep-${requestId}`): BootstrapRequested => ({
    v: 1,
    type: 'bootstrap-requested',
    requestId,
    gatewayId,
    endpoint,
    peer: { address: '127.0.0.1', port: 40000 },
    transport: 'udp',
    kind: 'bs',
    receivedAt: '2026-11-23T12:00:00.000Z',
  });
  const ended = (gatewayId: string, sessionId: string): BootstrapEnded => ({
    v: 1,
    type: 'bootstrap-ended',
    sessionId,
    gatewayId,
    endpoint: `ep-${sessionId}`,
    kind: 'bs',
    outcome: 'success',
    startedAt: '2026-11-23T12:00:00.000Z',
    endedAt: '2026-11-23T12:00:01.000Z',
  });
  const rejection = (uplink: BootstrapRequested): Downlink => ({ v: 1, type: 'bootstrap-rejected', requestId: uplink.requestId, endpoint: uplink.endpoint, reason: 'unknown-endpoint', detail: 'test' });
  const recorded = (uplink: BootstrapEnded): Downlink => ({ v: 1, type: 'bootstrap-recorded', sessionId: uplink.sessionId, endpoint: uplink.endpoint, stored: true });

  it('matches answers to uplinks by requestId and sessionId, whatever their order', async () => {
    const channel = await open('gw-a');
    const held: Downlink[] = [];
    answer = (uplink) => {
      if (uplink.type === 'bootstrap-ended') return [recorded(uplink)];
      held.push(rejection(uplink));
      // The first request's answer is held back and sent after the second's.
      return held.length === 2 ? [held[1]!, held[0]!] : [];
    };
    const first = channel.exchange(requested('gw-a', 'r-1'));
    await eventually(async () => (held.length === 1 ? true : undefined));
    const second = channel.exchange(requested('gw-a', 'r-2'));
    const outcome = channel.exchange(ended('gw-a', 's-1'));
    assert.equal(((await first) as { requestId: string }).requestId, 'r-1');
    assert.equal(((await second) as { requestId: string }).requestId, 'r-2');
    assert.deepEqual(await outcome, { v: 1, type: 'bootstrap-recorded', sessionId: 's-1', endpoint: 'ep-s-1', stored: true });
    assert.deepEqual(channel.counters(), { uplinks: 3, downlinks: 3, timeouts: 0, dropped: 0, refused: 0, revocations: 0, revocationsDropped: 0, pending: 0 });
  });

  it('drops downlinks the contract refuses or nobody waits for, and keeps waiting for the real one', async () => {
    const log: MqttChannelLogEvent[] = [];
    const channel = await open('gw-b', { log: (event) => log.push(event) });
    answer = (uplink) => {
      if (uplink.type !== 'bootstrap-requested') return [];
      const withoutDetail: Record<string, unknown> = { ...rejection(uplink) };
      delete withoutDetail['detail'];
      return ['not json', JSON.stringify(withoutDetail), JSON.stringify(rejection({ ...uplink, requestId: 'r-other' })), rejection(uplink)];
    };
    const downlink = await channel.exchange(requested('gw-b', 'r-3'));
    assert.equal(downlink.type, 'bootstrap-rejected');
    assert.deepEqual(
      log.filter((event) => event.event === 'downlink-dropped'),
      [
        { event: 'downlink-dropped', reason: 'not JSON' },
        { event: 'downlink-dropped', reason: 'invalid downlink at detail: Invalid input: expected string, received undefined' },
        { event: 'downlink-dropped', reason: 'bootstrap-rejected for request r-other that nothing waits for' },
      ],
    );
    assert.equal(channel.counters()['dropped'], 3);
  });

  it('gives up after timeoutMs, and a late answer is dropped', async () => {
    const channel = await open('gw-c', { timeoutMs: 150 });
    await assert.rejects(channel.exchange(requested('gw-c', 'r-4', 'slow')), (error: Error) => {
      assert.ok(error instanceof BackendChannelError);
      assert.equal(error.message, 'no answer to bootstrap-requested of slow within 150 ms');
      return true;
    });
    assert.equal(channel.counters()['pending'], 0);
    assert.equal(channel.counters()['timeouts'], 1);
    await backend.publishAsync('lwm2m-bs/gateways/gw-c/downlink', JSON.stringify(rejection(requested('gw-c', 'r-4', 'slow'))), { qos: 1 });
    await eventually(async () => (channel.counters()['dropped'] === 1 ? true : undefined));
  });

  it('bounds the uplinks waiting for answers, and refuses a second wait for one key', async () => {
    const channel = await open('gw-d', { maxPending: 2, timeoutMs: 300 });
    const waiting = [channel.exchange(requested('gw-d', 'r-5')), channel.exchange(ended('gw-d', 's-5'))];
    await assert.rejects(channel.exchange(requested('gw-d', 'r-6')), /2 uplinks already wait for an answer/);
    assert.equal(channel.counters()['refused'], 1);
    await Promise.allSettled(waiting);
    const first = channel.exchange(ended('gw-d', 's-7'));
    await assert.rejects(channel.exchange(ended('gw-d', 's-7')), /already waits/);
    await assert.rejects(first, /no answer/);
  });

  it('fails to connect when the broker refuses the downlink subscription', async () => {
    // The stand-in policy lets gw-e subscribe to its own downlink topic only.
    await assert.rejects(MqttBackendChannel.connect({ url: broker.url, gatewayId: 'gw-f', clientOptions: { clientId: 'gw-e' } }), /subscribing to lwm2m-bs\/gateways\/gw-f\/downlink failed: Subscribe error/);
  });

  it('fails fast while disconnected and works again once it has reconnected', async () => {
    const log: MqttChannelLogEvent[] = [];
    const channel = await open('gw-g', { clientOptions: { reconnectPeriod: 100 }, log: (event) => log.push(event) });
    answer = (uplink) => (uplink.type === 'bootstrap-requested' ? [rejection(uplink)] : []);
    const client = (broker.broker as unknown as { clients: Record<string, { close(): void }> }).clients['gw-g'];
    client?.close();
    await eventually(async () => (channel.connected ? undefined : true));
    await assert.rejects(channel.exchange(requested('gw-g', 'r-8')), /not connected/);
    await eventually(async () => (channel.connected ? true : undefined));
    assert.equal((await channel.exchange(requested('gw-g', 'r-9'))).type, 'bootstrap-rejected');
    assert.ok(log.some((event) => event.event === 'reconnecting'));
  });

  it('fails what is waiting when closed', async () => {
    const channel = await open('gw-h');
    const waiting = assert.rejects(channel.exchange(requested('gw-h', 'r-10')), /closed/);
    await channel.close();
    await waiting;
    await assert.rejects(channel.exchange(requested('gw-h', 'r-11')), /closed/);
  });
});
