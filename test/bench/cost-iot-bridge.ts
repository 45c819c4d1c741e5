import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startBroker } from '../fixtures/mqtt-broker.ts';
import type { Aedes } from 'aedes';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { connectAsync, type MqttClient } from 'mqtt';
import type { LambdaContext } from '../../functions/runtime/lambda-context.ts';
import { UPLINK_TOPIC_FILTER } from '../../server/aws/topics.ts';
import { EVENTBRIDGE_METERING_BYTES, IOT_METERING_BYTES } from './cost-prices.ts';

/** A count and the metering units it makes (5 KB for IoT Core, 64 KB for EventBridge). */
export interface Metered {
  count: number;
  units: number;
  bytes: number;
}

export interface AwsUsage {
  readonly invocations: number;
  readonly failedInvocations: number;
  /** Wall time of each handler invocation, ms. */
  readonly durationsMs: number[];
  /** MQTT PUBLISH received from the gateway (inbound): its uplinks. */
  readonly uplinks: Metered;
  /** IoT data-plane Publish requests of the function (HTTP, inbound): its downlinks. */
  readonly downlinkPublishes: Metered;
  /** MQTT PUBLISH sent by IoT Core to the gateway (outbound), one per downlink. */
  readonly deliveries: Metered;
  /** MQTT 3.1.1 PUBACKs received from the gateway for QoS 1 deliveries: one 5 KB message each. */
  readonly gatewayPubacks: number;
  /** Topic rule evaluations that matched (one per uplink) and actions run (one Lambda invoke each). */
  readonly rulesTriggered: Metered;
  readonly actionsExecuted: number;
  readonly events: Metered;
}

type Handler = (event: unknown, context: LambdaContext) => Promise<unknown>;

/**
 * The AWS side of the gateway channel, with stand-ins where nothing local exists:
 * - the topic rule is this bridge: an MQTT client on the broker that turns each uplink into the
 *   rule's event (the message plus `topic(3) AS gatewayTopicId`) and invokes the REAL handler,
 *   one at a time per message, timing it;
 * - the IoT data-plane Publish and EventBridge PutEvents are mocked with aws-sdk-client-mock
 *   (no local stand-in); the Publish fake publishes the downlink on the broker as IoT Core would.
 * What IoT Core would meter is counted where it happens: the uplink arriving from the gateway,
 * the Publish request and its delivery to the gateway (in the fake), the gateway's PUBACK (the
 * broker's `ack` event).
 */
export class CostBridge {
  readonly #client: MqttClient;
  readonly #gatewayClientId: string;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #iotData = mockClient(IoTDataPlaneClient);
  readonly #eventBridge = mockClient(EventBridgeClient);
  #usage = emptyUsage();
  #invocationId = 0;

  private constructor(client: MqttClient, gatewayClientId: string) {
    this.#client = client;
    this.#gatewayClientId = gatewayClientId;
  }

  static async start(options: { readonly brokerUrl: string; readonly broker: Aedes; readonly gatewayClientId: string; readonly handler: Handler; readonly functionMemoryMb: number }): Promise<CostBridge> {
    const client = await connectAsync(options.brokerUrl, { protocolVersion: 4, clientId: 'iot-rule-bridge', reconnectPeriod: 0 });
    // Without it the fake's PUBLISH waits behind the PUBACK of the uplink it answers (Nagle
    // against the broker's delayed ACK): ~40 ms a Publish that IoT Core's HTTP API does not have.
    if (client.stream instanceof Socket) client.stream.setNoDelay(true);
    const bridge = new CostBridge(client, options.gatewayClientId);
    bridge.#iotData.on(PublishCommand).callsFake(async (input: { topic: string; qos?: number; payload?: Uint8Array }) => {
      const payload = Buffer.from(input.payload ?? new Uint8Array());
      // The HTTP request is metered on its body; the delivery on topic and payload. Only the
      // gateway the topic names may subscribe to it, so each downlink is delivered once.
      meter(bridge.#usage.downlinkPublishes, payload.byteLength, IOT_METERING_BYTES);
      meter(bridge.#usage.deliveries, Buffer.byteLength(input.topic) + payload.byteLength, IOT_METERING_BYTES);
      await client.publishAsync(input.topic, payload, { qos: (input.qos ?? 0) as 0 | 1 });
      return {};
    });
    bridge.#eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => {
      for (const entry of input.Entries ?? []) meter(bridge.#usage.events, eventBridgeEntrySize(entry), EVENTBRIDGE_METERING_BYTES);
      return { FailedEntryCount: 0, Entries: (input.Entries ?? []).map((_, index) => ({ EventId: `event-${index}` })) };
    });
    // aedes names the client but not the acknowledged packet.
    options.broker.on('ack', (_packet, ackingClient) => {
      if (ackingClient?.id === bridge.#gatewayClientId) bridge.#usage.gatewayPubacks += 1;
    });
    await client.subscribeAsync(UPLINK_TOPIC_FILTER, { qos: 1 });
    client.on('message', (topic, payload) => {
      const size = Buffer.byteLength(topic) + payload.byteLength;
      meter(bridge.#usage.uplinks, size, IOT_METERING_BYTES);
      meter(bridge.#usage.rulesTriggered, size, IOT_METERING_BYTES);
      bridge.#usage.actionsExecuted += 1;
      const event = { ...(JSON.parse(payload.toString('utf8')) as object), gatewayTopicId: topic.split('/')[2] };
      const run = bridge.#invoke(options.handler, event, options.functionMemoryMb);
      bridge.#inFlight.add(run);
      void run.finally(() => bridge.#inFlight.delete(run));
    });
    return bridge;
  }

  /** Invocations running, plus downlinks delivered that the gateway has not acknowledged yet. */
  get busy(): number {
    return this.#inFlight.size + Math.max(0, this.#usage.deliveries.count - this.#usage.gatewayPubacks);
  }

  /** What was counted since the last take, and a fresh start. */
  take(): AwsUsage {
    const usage = this.#usage;
    this.#usage = emptyUsage();
    return usage;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    await this.#client.endAsync();
    this.#iotData.restore();
    this.#eventBridge.restore();
  }

  async #invoke(handler: Handler, event: object, memoryMb: number): Promise<void> {
    const usage = this.#usage;
    usage.invocations += 1;
    const started = performance.now();
    try {
      await handler(event, lambdaContext(`cost-${++this.#invocationId}`, memoryMb));
    } catch {
      usage.failedInvocations += 1;
    } finally {
      usage.durationsMs.push(performance.now() - started);
    }
  }
}

/** The test broker (IoT Core stand-in) with TCP_NODELAY, so timings are not delayed-ACK bound. */
export function startCostBroker(): ReturnType<typeof startBroker> {
  return startBroker({ noDelay: true });
}

function meter(metered: Metered, bytes: number, increment: number): void {
  metered.count += 1;
  metered.bytes += bytes;
  metered.units += Math.max(1, Math.ceil(bytes / increment));
}

/** EventBridge sizes an entry by its Source, DetailType, Detail and Resources (and Time, 14 bytes, if set). */
function eventBridgeEntrySize(entry: PutEventsRequestEntry): number {
  return [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])].reduce((sum, text) => sum + Buffer.byteLength(text ?? ''), entry.Time === undefined ? 0 : 14);
}

function emptyUsage(): { -readonly [K in keyof AwsUsage]: AwsUsage[K] } {
  return {
    invocations: 0,
    failedInvocations: 0,
    durationsMs: [],
    uplinks: { count: 0, units: 0, bytes: 0 },
    downlinkPublishes: { count: 0, units: 0, bytes: 0 },
    deliveries: { count: 0, units: 0, bytes: 0 },
    gatewayPubacks: 0,
    rulesTriggered: { count: 0, units: 0, bytes: 0 },
    actionsExecuted: 0,
    events: { count: 0, units: 0, bytes: 0 },
  };
}

function lambdaContext(requestId: string, memoryMb: number): LambdaContext {
  const functionName = 'lwm2m-bs-gateway-uplink';
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/23/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 10_000,
  };
}
