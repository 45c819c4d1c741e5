import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { gatewayDownlinkSchema } from '../../shared/bootstrap/contract.ts';
import type { AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import { simChangedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { attachEventOfRecord as attachEventOfRecordFn, handler as attachHandler } from '../../functions/attach.ts';
import { DEFAULT_GATEWAY_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import type { SqsEvent, SqsRecord } from '../../functions/runtime/sqs-event.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { functionEnvironment, lambdaContext } from './fixtures.ts';

// The real attach handler (middy, Powertools, the DynamoDB store) against dynalite, with the
// SQS event exactly as the event source mapping delivers it. Only the IoT data-plane Publish
// (the bootstrap-initiate downlink) is mocked with aws-sdk-client-mock: nothing local stands
// in for IoT Core; so is EventBridge PutEvents (SimChanged), for the same reason. A throttled table is dynalite behind a small HTTP proxy that answers the
// identity index Query of one IMSI with DynamoDB's throttling error, as the real service does.

const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);

const THROTTLED_IMSI = '001019999999999';

/** Forwards to dynalite, except that a Query for THROTTLED_IMSI is throttled. */
async function startThrottlingProxy(target: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      if (String(incoming.headers['x-amz-target']).endsWith('.Query') && body.toString('utf8').includes(THROTTLED_IMSI)) {
        outgoing.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        outgoing.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded.' }));
        return;
      }
      const forwarded = httpRequest({ hostname: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers: incoming.headers }, (response) => {
        outgoing.writeHead(response.statusCode ?? 500, response.headers);
        response.pipe(outgoing);
      });
      forwarded.on('error', () => outgoing.destroy());
      forwarded.end(body);
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let sequence = 0;

/** One SQS record whose body is the EventBridge event the attach rule forwards. */
function sqsRecord(detail: unknown, options: { detailType?: string; body?: string; receiveCount?: number } = {}): SqsRecord {
  sequence += 1;
  const body = options.body ?? JSON.stringify({
    version: '0',
    id: `0d079340-135a-c8c6-95c2-41fb8f4${String(sequence).padStart(5, '0')}`,
    'detail-type': options.detailType ?? 'DeviceAttached',
    source: 'carrier.example',
    account: '123456789012',
    time: '2026-11-23T12:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail,
  });
  return {
    messageId: `059f36b4-87a3-44ab-83d2-661975f${String(sequence).padStart(5, '0')}`,
    receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a-${sequence}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '1763899200000',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1763899200010',
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:LwM2mBootstrap-LifecycleAttachQueue',
    awsRegion: 'eu-west-1',
  };
}

const batch = (...records: SqsRecord[]): SqsEvent => ({ Records: records });

function attach(eventId: string, identities: Partial<AttachEvent>, extra: Partial<AttachEvent> = {}): AttachEvent {
  return {
    eventId,
    eventTime: '2026-11-23T12:00:00Z',
    carrier: 'example-carrier',
    ...identities,
    address: '192.0.2.10',
    port: 56830,
    ...extra,
  };
}

describe('attach function', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let proxy: Awaited<ReturnType<typeof startThrottlingProxy>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof attachHandler;
  let attachEventOfRecord: typeof attachEventOfRecordFn;
  const context = lambdaContext('attach');

  before(async () => {
    env = await functionEnvironment({
      [DEFAULT_GATEWAY_ENV]: 'gw-1',
      EVENT_BUS_NAME: 'lwm2m-bs-events',
      IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com',
      // One attempt: the throttled Query fails at once instead of after the SDK's backoff.
      AWS_MAX_ATTEMPTS: '1',
    });
    store = env.store;
    proxy = await startThrottlingProxy(process.env['AWS_ENDPOINT_URL_DYNAMODB']!);
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = proxy.endpoint;
    await store.putProfile(nosecProfile('fleet', 5685));
    await store.putDevice({ ...device('dev-a', 'fleet'), identities: { imsi: '001010000000001' } });
    await store.putDevice({ ...device('dev-b', 'fleet'), identities: { iccid: '8944500000000000002' } });
    await store.putDevice({ ...device('dev-throttled', 'fleet'), identities: { imsi: THROTTLED_IMSI } });
    await store.putDevice({ ...device('dev-orphan', 'no-such-profile'), identities: { imsi: '001010000000004' } });
    await store.putDevice({ ...device('dev-c', 'fleet'), identities: { imsi: '001010000000005' } });
    await store.putDevice({ ...device('dev-sim', 'fleet'), identities: { imsi: '001010000000006', iccid: '8944500000000000006' } });
    ({ handler, attachEventOfRecord } = await import('../../functions/attach.ts'));
  });
  after(async () => {
    await proxy.close();
    await env.close();
  });

  beforeEach(() => {
    iotData.reset();
    iotData.on(PublishCommand).resolves({});
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  const putEvents = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

  const published = () =>
    iotData.commandCalls(PublishCommand).map((call) => {
      const { topic, qos, payload } = call.args[0].input;
      return { topic, qos, message: gatewayDownlinkSchema.parse(JSON.parse(new TextDecoder().decode(payload as Uint8Array))) };
    });

  it('pushes the plan of a device that needs a bootstrap to the default gateway as bootstrap-initiate', async () => {
    const response = await handler(batch(sqsRecord(attach('ev-a1', { imsi: '001010000000001' }))), context);
    assert.deepEqual(response, { batchItemFailures: [] });
    const [sent, ...more] = published();
    assert.equal(more.length, 0);
    assert.equal(sent?.topic, 'lwm2m-bs/gateways/gw-1/downlink');
    assert.equal(sent?.qos, 1);
    const message = sent!.message;
    assert.equal(message.type, 'bootstrap-initiate');
    if (message.type !== 'bootstrap-initiate') return;
    const expectedPlan = compileBootstrapPlan((await store.getProfile('fleet'))!, (await store.getDevice('dev-a'))!);
    assert.deepEqual(message, {
      v: 1,
      type: 'bootstrap-initiate',
      sessionId: message.sessionId,
      gatewayId: 'gw-1',
      endpoint: 'dev-a',
      peer: { address: '192.0.2.10', port: 56830 },
      transport: 'udp',
      plan: expectedPlan,
      reason: 'never-bootstrapped',
    });
    const lifecycle = await store.getLifecycle('dev-a');
    assert.equal(lifecycle?.lastAttach?.eventId, 'ev-a1');
    assert.equal(lifecycle?.bootstrapNeeded?.reason, 'never-bootstrapped');
    // The same card as ever: nothing to announce.
    assert.equal(putEvents().length, 0);
  });

  it('announces SimChanged on the bus when a device attaches with a new card, which its entry then names', async () => {
    const response = await handler(batch(sqsRecord(attach('ev-s1', { imsi: '001010000000006', iccid: '8944500000000000007' }))), context);
    assert.deepEqual(response, { batchItemFailures: [] });
    const [entry, ...more] = putEvents();
    assert.equal(more.length, 0);
    const { Detail, Time, ...envelope } = entry!;
    assert.deepEqual(envelope, { EventBusName: 'lwm2m-bs-events', Source: 'lwm2m-bs', DetailType: 'SimChanged' });
    const detail = simChangedEventSchema.parse(JSON.parse(Detail!));
    assert.deepEqual({ ...detail, time: undefined }, { type: 'SimChanged', endpoint: 'dev-sim', time: undefined, from: '8944500000000000006', to: '8944500000000000007', disabledSmartcard: false });
    assert.equal(Time?.toISOString(), detail.time);
    assert.equal((await store.getDevice('dev-sim'))?.identities.iccid, '8944500000000000007');
    assert.ok((await store.getLifecycle('dev-sim'))?.bootstrapNeeded, 'marked for bootstrap');
    // The bootstrap that follows is pushed as for any marked device.
    assert.deepEqual(published().map(({ message }) => message.endpoint), ['dev-sim']);

    // Redelivered, the event is a duplicate: no second SimChanged.
    eventBridge.resetHistory();
    assert.deepEqual(await handler(batch(sqsRecord(attach('ev-s1', { imsi: '001010000000006', iccid: '8944500000000000007' }), { receiveCount: 2 })), context), { batchItemFailures: [] });
    assert.equal(putEvents().length, 0);
  });

  it('changes nothing for a duplicate delivery of the same event', async () => {
    const before = await store.getLifecycle('dev-a');
    const response = await handler(batch(sqsRecord(attach('ev-a1', { imsi: '001010000000001' }), { receiveCount: 2 })), context);
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(published().length, 0);
    assert.deepEqual(await store.getLifecycle('dev-a'), before);
  });

  it('reports only the throttled record; the others of the batch are taken', async () => {
    const throttled = sqsRecord(attach('ev-t1', { imsi: THROTTLED_IMSI }));
    const fine = sqsRecord(attach('ev-b1', { iccid: '8944500000000000002' }));
    const response = await handler(batch(throttled, fine), context);
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: throttled.messageId }] });
    assert.deepEqual(published().map(({ message }) => message.endpoint), ['dev-b']);
    assert.equal(await store.getLifecycle('dev-throttled'), undefined);
  });

  it('reports messages that can never be taken, so they reach the dead-letter queue, and takes the rest', async () => {
    const notJson = sqsRecord(undefined, { body: '{"detail-type": "DeviceAttached", ' });
    const otherType = sqsRecord(attach('ev-x1', { imsi: '001010000000005' }), { detailType: 'DeviceDetached' });
    const badImsi = sqsRecord(attach('ev-x2', { imsi: 'SECRET-ish-1234' }));
    const noIdentity = sqsRecord(attach('ev-x3', {}));
    const missingProfile = sqsRecord(attach('ev-x4', { imsi: '001010000000004' }));
    const unknown = sqsRecord(attach('ev-x5', { imsi: '001010000000999' }));
    const response = await handler(batch(notJson, otherType, badImsi, noIdentity, missingProfile, unknown), context);
    assert.deepEqual(
      response.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier),
      [notJson, otherType, badImsi, noIdentity, missingProfile].map((record) => record.messageId),
    );
    // An unknown device is routine for a carrier feed: taken, nothing written or pushed.
    assert.equal(published().length, 0);
    assert.equal(await store.getLifecycle('dev-c'), undefined);
  });

  it('gives the reason of a refused message by field, never its value', () => {
    assert.throws(() => attachEventOfRecord(sqsRecord(attach('ev-y1', { imsi: 'SECRET-ish-1234' }))), (error: Error) => {
      assert.match(error.message, /imsi: 6 to 15 digits/);
      assert.doesNotMatch(error.message, /SECRET/);
      return true;
    });
    assert.throws(() => attachEventOfRecord(sqsRecord(attach('ev-y2', {}))), /at least one of imsi, iccid or imei/);
    assert.throws(() => attachEventOfRecord(sqsRecord(attach('ev-y3', { imsi: '001010000000005' }), { detailType: 'Other' })), /detail-type is not DeviceAttached/);
    assert.throws(() => attachEventOfRecord({ body: 'not json' }), /not JSON/);
  });

  it('takes the message and keeps the mark when the push fails: the next Bootstrap-Request serves it', async () => {
    iotData.reset();
    iotData.on(PublishCommand).rejects(new Error('IoT Core unavailable'));
    const response = await handler(batch(sqsRecord(attach('ev-c1', { imsi: '001010000000005' }))), context);
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(iotData.commandCalls(PublishCommand).length, 1);
    const lifecycle = await store.getLifecycle('dev-c');
    assert.equal(lifecycle?.lastAttach?.eventId, 'ev-c1');
    assert.equal(lifecycle?.bootstrapNeeded?.reason, 'never-bootstrapped');
  });
});
