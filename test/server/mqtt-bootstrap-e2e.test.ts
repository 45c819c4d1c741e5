import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { connectAsync, type MqttClient } from 'mqtt';
import { ContentFormat } from '../../shared/content/format.ts';
import { BootstrapGateway } from '../../server/gateway/bootstrap-gateway.ts';
import { MqttBackendChannel } from '../../server/gateway/mqtt-backend-channel.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from '../e2e/fixtures.ts';
import { functionEnvironment, PURGE_SCHEDULER_TEST_ENV, lambdaContext, startBroker } from '../functions/fixtures.ts';

// A client-initiated bootstrap the way it runs on AWS, with local stand-ins:
// - an in-process aedes broker (MQTT 3.1.1) for IoT Core;
// - a test bridge for the topic rule: it subscribes to the uplink topics and invokes the REAL
//   gateway-uplink handler with the rule's event (the message plus topic(3) AS gatewayTopicId);
// - dynalite for DynamoDB.
// Mocked with aws-sdk-client-mock, because nothing local stands in for them: the IoT
// data-plane Publish, whose fake publishes the downlink on the broker as IoT Core would, and
// EventBridge PutEvents, recorded for the assertions.
// The REAL BootstrapGateway talks to the broker through the MQTT channel, and a SimulatedClient
// bootstraps through it over UDP on loopback, then registers at a test LwM2M server.
const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);

describe('bootstrap through the gateway, MQTT and the uplink function', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let bridge: MqttClient;
  let channel: MqttBackendChannel;
  let gateway: BootstrapGateway;
  let lwm2m: TestLwm2mServer;
  let port: number;
  const failedInvocations: unknown[] = [];

  before(async () => {
    env = await functionEnvironment({
      EVENT_BUS_NAME: 'lwm2m-bs-events',
      IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com',
      // The purge scheduler's settings are required; these profiles write no account timeout,
      // so no schedule is ever created.
      ...PURGE_SCHEDULER_TEST_ENV,
    });
    store = env.store;
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    await store.putProfile(nosecProfile('fleet', lwm2m.port));
    for (const endpoint of ['mqtt-11', 'mqtt-12']) await store.putDevice(device(endpoint, 'fleet'));

    broker = await startBroker();
    bridge = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'iot-rule-bridge', reconnectPeriod: 0 });
    iotData.on(PublishCommand).callsFake(async (input: { topic: string; qos: number; payload: Uint8Array }) => {
      await bridge.publishAsync(input.topic, Buffer.from(input.payload), { qos: input.qos as 0 | 1 });
      return {};
    });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { handler } = await import('../../functions/gateway-uplink.ts');
    await bridge.subscribeAsync('lwm2m-bs/gateways/+/uplink', { qos: 1 });
    bridge.on('message', (topic, payload) => {
      const event = { ...(JSON.parse(payload.toString('utf8')) as object), gatewayTopicId: topic.split('/')[2] };
      handler(event, lambdaContext('gateway-uplink')).catch((error: unknown) => failedInvocations.push(error));
    });

    channel = await MqttBackendChannel.connect({ url: broker.url, gatewayId: 'gw-e2e', timeoutMs: 5_000 });
    gateway = await BootstrapGateway.start({ gatewayId: 'gw-e2e', backend: channel, coap: { port: 0, host4: '127.0.0.1', host6: false }, requestTimeoutMs: 2_000 });
    port = gateway.coap.address('IPv4')!.port;
  });

  after(async () => {
    await gateway.close();
    await channel.close();
    await bridge.endAsync();
    await broker.close();
    await lwm2m.close();
    await env.close();
  });

  const run = async (options: Omit<ConstructorParameters<typeof SimulatedClient>[0], 'bootstrapServer'>) => {
    const client = new SimulatedClient({ ...options, bootstrapServer: { host: '127.0.0.1', port } });
    try {
      return await client.run();
    } finally {
      await client.close();
    }
  };
  const lifecycleEvents = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

  it('bootstraps a LwM2M 1.1 client with Bootstrap-Request, records success and announces it', async () => {
    const result = await run({ endpoint: 'mqtt-11', version: '1.1', preferredFormat: ContentFormat.SENML_CBOR });
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bs');
    assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
    const status = await eventually(async () => (await store.getDevice('mqtt-11'))?.status);
    assert.equal(status.outcome, 'success');
    assert.equal(status.kind, 'bs');
    assert.equal(status.clientVersion, '1.1');
    assert.equal(status.contentFormat, ContentFormat.SENML_CBOR);
    const event = await eventually(async () => lifecycleEvents().find((entry) => entry.Detail?.includes('"mqtt-11"')));
    assert.equal(event.DetailType, 'BootstrapCompleted');
    assert.equal((JSON.parse(event.Detail!) as { sessionId: string }).sessionId, status.sessionId);
    // Requested → planned, ended → recorded: two downlinks on the gateway's own topic.
    const downlinks = iotData.commandCalls(PublishCommand).map((call) => call.args[0].input.topic);
    assert.deepEqual(downlinks, ['lwm2m-bs/gateways/gw-e2e/downlink', 'lwm2m-bs/gateways/gw-e2e/downlink']);
  });

  it('serves a LwM2M 1.2 client a Bootstrap-Pack', async () => {
    const result = await run({ endpoint: 'mqtt-12', version: '1.2' });
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'bspack');
    const status = await eventually(async () => (await store.getDevice('mqtt-12'))?.status);
    assert.deepEqual([status.outcome, status.kind], ['success', 'bspack']);
  });

  it('refuses an endpoint the store does not know, over the same path', async () => {
    const result = await run({ endpoint: 'mqtt-stranger', version: '1.1', register: false, timeouts: { ackTimeoutMs: 200, maxRetransmit: 1 } });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /4\.00|bad request/i);
    assert.equal(gateway.counters()['bootstrapsRejected'], 1);
    assert.deepEqual(failedInvocations, []);
    assert.equal(channel.counters()['timeouts'], 0);
  });
});
