import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Client } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import type { BootstrapPsk } from '../../shared/bootstrap/bootstrap-psk.ts';
import { pskRevocation } from '../../shared/bootstrap/psk-revocation.ts';
import { PSK_REVOCATIONS_TOPIC } from '../../server/aws/topics.ts';
import { MqttBackendChannel, type MqttChannelLogEvent } from '../../server/gateway/mqtt-backend-channel.ts';
import { PskCache, type PskSource } from '../../server/gateway/psk-cache.ts';
import { eventually } from '../e2e/fixtures.ts';
import { startBroker } from '../fixtures/mqtt-broker.ts';

// A gateway's MQTT channel and PSK cache against a real MQTT 3.1.1 broker (aedes, in process,
// standing in for IoT Core, with the gateway's subscriptions limited as the IoT policy limits
// them). A second client plays the purge function publishing on the broadcast topic. The
// cache's TTL is an hour, so only a revocation (or a reconnection) makes it ask the source again.

const KEY = Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
const KEY_HEX = '00112233445566778899aabbccddeeff';

/** A source that answers every identity with a key and counts the lookups per identity. */
function countingSource(): PskSource & { count(identity: string): number } {
  const calls: string[] = [];
  return {
    count: (identity) => calls.filter((call) => call === identity).length,
    lookup(identity) {
      calls.push(identity);
      return Promise.resolve<BootstrapPsk>({ endpoint: `ep-${identity}`, key: KEY });
    },
  };
}

describe('PSK revocations over MQTT', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let purge: MqttClient;
  const connected = new Map<string, Client>();
  const channels: MqttBackendChannel[] = [];

  before(async () => {
    broker = await startBroker();
    broker.broker.on('clientReady', (client) => connected.set(client.id, client));
    purge = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'purge', reconnectPeriod: 0 });
  });
  afterEach(async () => {
    await Promise.all(channels.splice(0).map((channel) => channel.close()));
  });
  after(async () => {
    await purge.endAsync();
    await broker.close();
  });

  const open = async (gatewayId: string) => {
    const source = countingSource();
    const cache = new PskCache(source, { ttlMs: 3_600_000 });
    const log: MqttChannelLogEvent[] = [];
    const channel = await MqttBackendChannel.connect({ url: broker.url, gatewayId, pskCache: cache, log: (event) => log.push(event) });
    channels.push(channel);
    return { source, cache, channel, log };
  };
  const publish = (payload: string | object) => purge.publishAsync(PSK_REVOCATIONS_TOPIC, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });

  it('drops a revoked identity from every connected gateway\'s cache, and that identity only', async () => {
    const gateways = [await open('gw-rev-1'), await open('gw-rev-2')];
    for (const { cache } of gateways) {
      for (const identity of ['id-revoked', 'id-kept', 'id-revoked', 'id-kept']) assert.equal((await cache.lookup(identity))?.endpoint, `ep-${identity}`);
    }
    for (const { source } of gateways) assert.deepEqual([source.count('id-revoked'), source.count('id-kept')], [1, 1], 'cached');

    await publish(pskRevocation('id-revoked', new Date('2026-11-23T13:00:00.000Z')));
    for (const { channel } of gateways) await eventually(async () => (channel.counters().revocations === 1 ? true : undefined));

    for (const { cache, source, log } of gateways) {
      await cache.lookup('id-revoked');
      await cache.lookup('id-kept');
      assert.equal(source.count('id-revoked'), 2, 'the next lookup asks the source again');
      assert.equal(source.count('id-kept'), 1, 'other identities stay cached');
      assert.deepEqual(log.filter((event) => event.event === 'psk-revoked'), [{ event: 'psk-revoked', identity: 'id-revoked' }]);
    }
  });

  it('counts and ignores malformed revocations, naming the field and never the value', async () => {
    const { cache, source, channel, log } = await open('gw-rev-3');
    await cache.lookup('id-1');
    const valid = pskRevocation('id-1', new Date('2026-11-23T13:00:00.000Z'));
    const malformed: (string | object)[] = [
      'not json {',
      { ...valid, type: 'psk-issued' },
      { ...valid, v: 2 },
      { ...valid, identity: '' },
      { ...valid, revokedAt: 'yesterday' },
      // A key must never travel here: refused, not acted upon.
      { ...valid, secretKey: KEY_HEX },
      [valid],
    ];
    for (const payload of malformed) await publish(payload);
    await eventually(async () => (channel.counters().revocationsDropped === malformed.length ? true : undefined));

    assert.equal(channel.counters().revocations, 0);
    await cache.lookup('id-1');
    assert.equal(source.count('id-1'), 1, 'the cached key is untouched');
    const reasons = log.flatMap((event) => (event.event === 'revocation-dropped' ? [event.reason] : []));
    assert.equal(reasons.length, malformed.length);
    assert.equal(reasons[0], 'not JSON');
    assert.match(reasons[1]!, /at type: invalid_value/);
    assert.match(reasons[5]!, /unrecognized_keys/);
    for (const reason of reasons) assert.doesNotMatch(reason, new RegExp(`${KEY_HEX}|id-1`));
    assert.equal(log.some((event) => event.event === 'psk-revoked'), false);
    assert.ok(channel.connected, 'still connected');
  });

  it('empties the cache when the connection comes back, and receives revocations again', async () => {
    const { cache, source, channel, log } = await open('gw-rev-4');
    await cache.lookup('id-a');
    await cache.lookup('id-a');
    assert.equal(source.count('id-a'), 1);

    // The broker drops the connection: revocations published now would not reach the gateway
    // (clean session), so what it cached before cannot be trusted once it is back.
    const resubscribed = new Promise<void>((resolve) => {
      broker.broker.on('subscribe', (subscriptions, client) => {
        if (client.id === 'gw-rev-4' && subscriptions.some((subscription) => subscription.topic === PSK_REVOCATIONS_TOPIC)) resolve();
      });
    });
    connected.get('gw-rev-4')!.close();
    await resubscribed;
    await eventually(async () => (log.some((event) => event.event === 'psk-cache-cleared') ? true : undefined));
    await cache.lookup('id-a');
    assert.equal(source.count('id-a'), 2, 'asked again after the reconnection');

    await publish(pskRevocation('id-a', new Date()));
    await eventually(async () => (channel.counters().revocations === 1 ? true : undefined));
    await cache.lookup('id-a');
    assert.equal(source.count('id-a'), 3);
  });

  it('does not subscribe to revocations without a cache (a gateway without coaps)', async () => {
    const subscribed: string[] = [];
    const listener = (subscriptions: { topic: string }[], client: Client) => {
      if (client.id === 'gw-rev-5') subscribed.push(...subscriptions.map((subscription) => subscription.topic));
    };
    broker.broker.on('subscribe', listener);
    try {
      channels.push(await MqttBackendChannel.connect({ url: broker.url, gatewayId: 'gw-rev-5' }));
      assert.deepEqual(subscribed, ['lwm2m-bs/gateways/gw-rev-5/downlink']);
    } finally {
      broker.broker.off('subscribe', listener);
    }
  });
});
