import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { planServerInitiated } from '../../shared/bootstrap/server-initiated.ts';
import { downlinkTopic, uplinkTopic } from '../../server/aws/topics.ts';
import { BootstrapGateway } from '../../server/gateway/bootstrap-gateway.ts';
import { MqttBackendChannel, type MqttChannelLogEvent } from '../../server/gateway/mqtt-backend-channel.ts';
import { startDynalite, localDynamoDbClient } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from '../e2e/fixtures.ts';
import { startBroker } from '../fixtures/mqtt-broker.ts';

// A server-initiated bootstrap arriving the way it does on AWS: unsolicited on the gateway's
// downlink topic of an MQTT broker (aedes standing in for IoT Core). A test bridge plays the
// backend: it answers the gateway's uplinks with the real handleUplink over dynalite and
// publishes the bootstrap-initiate that planServerInitiated returns.
describe('bootstrap-initiate over MQTT', () => {
  const gatewayId = 'gw-push';
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let bridge: MqttClient;
  let channel: MqttBackendChannel;
  let gateway: BootstrapGateway;
  let lwm2m: TestLwm2mServer;
  let store: DynamoDbBootstrapStore;
  let deps: BootstrapBackendDeps;
  let closeStore: () => Promise<void>;
  let port: number;
  const channelLog: MqttChannelLogEvent[] = [];

  before(async () => {
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    const dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'mqtt-server-initiated');
    store = new DynamoDbBootstrapStore({ client, tableName: 'mqtt-server-initiated' });
    closeStore = async () => {
      client.destroy();
      await dynalite.close();
    };
    await store.putProfile(nosecProfile('fleet', lwm2m.port));
    await store.putDevice(device('pushed', 'fleet'));
    deps = { store, newSessionId: randomUUID, now: () => new Date() };

    broker = await startBroker({ noDelay: true });
    bridge = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'backend-bridge', reconnectPeriod: 0 });
    await bridge.subscribeAsync(uplinkTopic(gatewayId), { qos: 1 });
    bridge.on('message', (_topic, payload) => {
      void handleUplink(JSON.parse(payload.toString('utf8')), deps).then((downlink) => bridge.publishAsync(downlinkTopic(gatewayId), JSON.stringify(downlink), { qos: 1 }));
    });
    channel = await MqttBackendChannel.connect({ url: broker.url, gatewayId, timeoutMs: 5_000, log: (event) => channelLog.push(event) });
    gateway = await BootstrapGateway.start({ gatewayId, backend: channel, coap: { port: 0, host4: '127.0.0.1', host6: false }, requestTimeoutMs: 2_000 });
    port = gateway.coap.address('IPv4')!.port;
  });

  after(async () => {
    await gateway.close();
    await channel.close();
    await bridge.endAsync();
    await broker.close();
    await lwm2m.close();
    await closeStore();
  });

  it('an unsolicited bootstrap-initiate starts a session; its outcome is recorded through the uplink', async () => {
    const simulated = new SimulatedClient({ endpoint: 'pushed', version: '1.1', bootstrapServer: { host: '127.0.0.1', port }, serverInitiated: 'always' });
    try {
      const listener = await simulated.listen({ timeoutMs: 5000 });
      const planned = await planServerInitiated(deps, 'pushed', { address: '127.0.0.1', port: listener.port }, 'sim-changed', { gatewayId });
      assert.ok(planned.ok);
      await bridge.publishAsync(downlinkTopic(gatewayId), JSON.stringify(planned.downlink), { qos: 1 });

      const result = await listener.result;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'server-initiated');
      assert.ok(result.registeredAt);
      const status = await eventually(async () => {
        const current = (await store.getDevice('pushed'))?.status;
        return current?.sessionId === planned.downlink.sessionId ? current : undefined;
      });
      assert.equal(status.outcome, 'success');
      assert.equal(gateway.counters().bootstrapsInitiated, 1);
    } finally {
      await simulated.close();
    }
  });

  it('drops a bootstrap-initiate for another gateway or one the contract refuses, saying why', async () => {
    const planned = await planServerInitiated(deps, 'pushed', { address: '127.0.0.1', port: 9 }, 'operator', { gatewayId: 'gw-other' });
    assert.ok(planned.ok);
    const dropped = () => channelLog.filter((event) => event.event === 'downlink-dropped').length;
    const droppedBefore = dropped();
    await bridge.publishAsync(downlinkTopic(gatewayId), JSON.stringify(planned.downlink), { qos: 1 });
    await bridge.publishAsync(downlinkTopic(gatewayId), JSON.stringify({ ...planned.downlink, gatewayId, transport: 'tcp' }), { qos: 1 });
    await eventually(async () => (dropped() - droppedBefore >= 2 ? true : undefined));
    const reasons = channelLog.flatMap((event) => (event.event === 'downlink-dropped' ? [event.reason] : [])).slice(droppedBefore);
    assert.ok(reasons.some((reason) => /meant for gateway gw-other/.test(reason)), reasons.join('; '));
    assert.ok(reasons.some((reason) => /invalid downlink at transport/.test(reason)), reasons.join('; '));
    assert.equal(gateway.counters().bootstrapsInitiated, 1);
  });
});
