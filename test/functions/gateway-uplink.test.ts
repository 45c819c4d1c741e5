import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { ContractError } from '../../shared/bootstrap/backend.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { downlinkSchema, type BootstrapEnded, type BootstrapRequested } from '../../shared/bootstrap/contract.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as gatewayUplinkHandler } from '../../functions/gateway-uplink.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { functionEnvironment, PURGE_SCHEDULER_TEST_ENV, lambdaContext } from './fixtures.ts';

// The real gateway-uplink handler (middy, Powertools, the DynamoDB store) against dynalite.
// Mocked with aws-sdk-client-mock, because nothing local stands in for them: the IoT
// data-plane Publish (the downlink), EventBridge PutEvents (lifecycle events) and IoT
// DescribeEndpoint (endpoint discovery; IOT_DATA_ENDPOINT is left unset to exercise it).
const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);
const iot = mockClient(IoTClient);

const SECRET = '00112233445566778899aabbccddeeff';

describe('gateway-uplink function', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof gatewayUplinkHandler;
  const context = lambdaContext('gateway-uplink');

  before(async () => {
    // The purge scheduler's settings are required; no profile here has a Bootstrap-Server
    // account, so no schedule is touched (test/functions/uplink-purges.test.ts covers that).
    env = await functionEnvironment({
      EVENT_BUS_NAME: 'lwm2m-bs-events',
      ...PURGE_SCHEDULER_TEST_ENV,
    });
    store = env.store;
    await store.putProfile(nosecProfile('fleet', 5685));
    await store.putDevice(device('known', 'fleet'));
    await store.putProfile({
      ...nosecProfile('keyed', 5685),
      servers: [{ shortServerId: 7, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', credentialSource: 'device', lifetime: 60, binding: 'U', notificationStoring: false }],
      allowSecretsOverNoSec: true,
    });
    await store.putDevice({ ...device('keyed', 'keyed'), serverCredentials: { '7': { identity: 'keyed-7', secretKey: SECRET } } });
    // Not reset between tests: discovery is per container, and the container is this file.
    iot.on(DescribeEndpointCommand).resolves({ endpointAddress: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com' });
    ({ handler } = await import('../../functions/gateway-uplink.ts'));
  });
  after(() => env.close());

  beforeEach(() => {
    iotData.reset();
    eventBridge.reset();
    iotData.on(PublishCommand).resolves({});
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  const requested = (endpoint: string, extra: Partial<BootstrapRequested> = {}): BootstrapRequested => ({
    v: 1,
    type: 'bootstrap-requested',
    requestId: `r-${endpoint}`,
    gatewayId: 'gw-1',
    endpoint,
    peer: { address: '192.0.2.7', port: 56830 },
    transport: 'udp',
    kind: 'bs',
    preferredContentFormat: 112,
    receivedAt: '2026-11-23T12:00:00.000Z',
    ...extra,
  });
  const ended = (endpoint: string, extra: Partial<BootstrapEnded> = {}): BootstrapEnded => ({
    v: 1,
    type: 'bootstrap-ended',
    sessionId: `s-${endpoint}`,
    gatewayId: 'gw-1',
    endpoint,
    kind: 'bs',
    outcome: 'success',
    clientVersion: '1.1',
    contentFormat: 112,
    startedAt: '2026-11-23T12:00:00.000Z',
    endedAt: '2026-11-23T12:00:01.500Z',
    ...extra,
  });
  /** The event the topic rule `SELECT *, topic(3) AS gatewayTopicId` delivers. */
  const ruleEvent = (message: object, gatewayTopicId = 'gw-1') => ({ ...message, gatewayTopicId });

  const published = () =>
    iotData.commandCalls(PublishCommand).map((call) => {
      const { topic, qos, contentType, payload } = call.args[0].input;
      return { topic, qos, contentType, message: JSON.parse(new TextDecoder().decode(payload as Uint8Array)) as unknown };
    });
  const putEvents = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

  it('answers a Bootstrap-Request with the plan on the gateway downlink topic, QoS 1, and no event', async () => {
    const result = await handler(ruleEvent(requested('known')), context);
    const [sent, ...more] = published();
    assert.equal(more.length, 0);
    assert.equal(sent?.topic, 'lwm2m-bs/gateways/gw-1/downlink');
    assert.equal(sent?.qos, 1);
    assert.equal(sent?.contentType, 'application/json');
    const downlink = downlinkSchema.parse(sent?.message);
    assert.equal(downlink.type, 'bootstrap-planned');
    if (downlink.type !== 'bootstrap-planned') return;
    assert.match(downlink.sessionId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const expectedPlan = compileBootstrapPlan((await store.getProfile('fleet'))!, (await store.getDevice('known'))!);
    assert.deepEqual(sent?.message, { v: 1, type: 'bootstrap-planned', requestId: 'r-known', sessionId: downlink.sessionId, endpoint: 'known', plan: expectedPlan });
    assert.deepEqual(result, { gatewayId: 'gw-1', uplink: 'bootstrap-requested', downlink: 'bootstrap-planned', endpoint: 'known' });
    assert.equal(putEvents().length, 0);
  });

  it('serves a Bootstrap-Pack in one invocation: plan, outcome recorded, BootstrapCompleted on the bus', async () => {
    const result = await handler(ruleEvent(requested('known', { kind: 'bspack', accept: 112, requestId: 'r-pack' })), context);
    const [sent] = published();
    const downlink = downlinkSchema.parse(sent?.message);
    assert.equal(downlink.type === 'bootstrap-planned' && downlink.outcomeRecorded, true);
    const [entry, ...more] = putEvents();
    assert.equal(more.length, 0);
    assert.equal(entry?.DetailType, 'BootstrapCompleted');
    const detail = JSON.parse(entry?.Detail ?? 'null') as { kind: string; outcome: string; contentFormat: number; sessionId: string };
    assert.deepEqual([detail.kind, detail.outcome, detail.contentFormat], ['bspack', 'success', 112]);
    assert.equal(detail.sessionId, downlink.type === 'bootstrap-planned' ? downlink.sessionId : '');
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.equal((await store.getDevice('known'))?.status?.kind, 'bspack');
  });

  it('answers an unknown endpoint with a refusal', async () => {
    await handler(ruleEvent(requested('stranger')), context);
    assert.deepEqual(
      published().map((sent) => sent.message),
      [{ v: 1, type: 'bootstrap-rejected', requestId: 'r-stranger', endpoint: 'stranger', reason: 'unknown-endpoint', detail: 'no device entry for endpoint stranger' }],
    );
    assert.equal(putEvents().length, 0);
  });

  it('records a successful outcome, answers bootstrap-recorded and puts BootstrapCompleted on the bus', async () => {
    const result = await handler(ruleEvent(ended('known', { reads: { '/1/0/1': 120 } })), context);
    assert.deepEqual(published(), [
      { topic: 'lwm2m-bs/gateways/gw-1/downlink', qos: 1, contentType: 'application/json', message: { v: 1, type: 'bootstrap-recorded', sessionId: 's-known', endpoint: 'known', stored: true } },
    ]);
    const [entry, ...more] = putEvents();
    assert.equal(more.length, 0);
    assert.deepEqual({ ...entry, Detail: JSON.parse(entry?.Detail ?? 'null') as unknown }, {
      EventBusName: 'lwm2m-bs-events',
      Source: 'lwm2m-bs',
      DetailType: 'BootstrapCompleted',
      Detail: {
        endpoint: 'known',
        sessionId: 's-known',
        outcome: 'success',
        clientVersion: '1.1',
        contentFormat: 112,
        kind: 'bs',
        startedAt: '2026-11-23T12:00:00.000Z',
        endedAt: '2026-11-23T12:00:01.500Z',
      },
    });
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    const status = (await store.getDevice('known'))?.status;
    assert.equal(status?.outcome, 'success');
    assert.equal(status?.sessionId, 's-known');
  });

  it('puts BootstrapFailed for any other outcome, without the detail or reads', async () => {
    await handler(
      ruleEvent(ended('keyed', { sessionId: 's-keyed-2', outcome: 'timeout', detail: 'no answer to Bootstrap-Write /0/1', startedAt: '2026-11-23T13:00:00.000Z', endedAt: '2026-11-23T13:01:00.000Z' })),
      context,
    );
    const [entry] = putEvents();
    assert.equal(entry?.DetailType, 'BootstrapFailed');
    assert.deepEqual(JSON.parse(entry?.Detail ?? 'null'), {
      endpoint: 'keyed',
      sessionId: 's-keyed-2',
      outcome: 'timeout',
      clientVersion: '1.1',
      contentFormat: 112,
      kind: 'bs',
      startedAt: '2026-11-23T13:00:00.000Z',
      endedAt: '2026-11-23T13:01:00.000Z',
    });
    assert.equal((await store.getDevice('keyed'))?.status?.outcome, 'timeout');
  });

  it('refuses an uplink whose gatewayId is not the topic\'s, recording and publishing nothing', async () => {
    await assert.rejects(handler(ruleEvent(ended('known', { sessionId: 's-spoofed', startedAt: '2026-11-24T00:00:00.000Z' }), 'gw-2'), context), (error: Error) => {
      assert.ok(error instanceof ContractError);
      assert.equal(error.message, 'uplink names gateway gw-1 but arrived on the topic of gateway gw-2');
      return true;
    });
    assert.equal(published().length, 0);
    assert.equal(putEvents().length, 0);
    assert.notEqual((await store.getDevice('known'))?.status?.sessionId, 's-spoofed');
  });

  it('throws a ContractError naming the problem for a malformed event', async () => {
    const withoutRequestId: Record<string, unknown> = { ...requested('known') };
    delete withoutRequestId['requestId'];
    const cases: [unknown, RegExp][] = [
      [requested('known'), /no valid gatewayTopicId .*topic\(3\) AS gatewayTopicId/],
      [ruleEvent(requested('known'), 'gw/1'), /no valid gatewayTopicId/],
      ['a string', /not a JSON object/],
      [null, /not a JSON object/],
      [ruleEvent(withoutRequestId), /^invalid uplink from gateway gw-1 at requestId: /],
      [ruleEvent({ ...requested('known'), v: 2 }), /^invalid uplink from gateway gw-1 at v: /],
      [ruleEvent({ ...requested('known'), type: 'bootstrap-hello' }), /^invalid uplink from gateway gw-1 at type: /],
      [ruleEvent({ ...requested('known'), extra: 1 }), /^invalid uplink from gateway gw-1 at \(message\): .*extra/],
    ];
    for (const [event, message] of cases) {
      await assert.rejects(handler(event, context), (error: Error) => error instanceof ContractError && message.test(error.message), `${JSON.stringify(event)}`);
    }
    assert.equal(published().length, 0);
  });

  it('does not fail (and so is not retried) when EventBridge refuses the event: the gateway has its answer, the outcome is stored', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    const result = await handler(ruleEvent(ended('known', { sessionId: 's-known-3', startedAt: '2026-11-25T00:00:00.000Z' })), context);
    assert.equal(result.lifecycleEvent, undefined);
    assert.equal(published().length, 1);
    assert.equal((await store.getDevice('known'))?.status?.sessionId, 's-known-3');
  });

  it('announces nothing for an outcome the table refused as older than the one it holds', async () => {
    const result = await handler(ruleEvent(ended('known', { sessionId: 's-stale', startedAt: '2026-01-01T00:00:00.000Z' })), context);
    const [sent] = published();
    assert.equal((sent?.message as { stored?: boolean }).stored, false);
    assert.equal(putEvents().length, 0);
    assert.equal(result.lifecycleEvent, undefined);
  });

  it('found the data endpoint with DescribeEndpoint (iot:Data-ATS) once for the container', async () => {
    // Every earlier test published through the same container; discovery ran in the first.
    await handler(ruleEvent(requested('known', { requestId: 'r-again' })), context);
    const describeCalls = iot.commandCalls(DescribeEndpointCommand);
    assert.equal(describeCalls.length, 1);
    assert.deepEqual(describeCalls[0]?.args[0].input, { endpointType: 'iot:Data-ATS' });
    const publishCall = iotData.commandCalls(PublishCommand)[0]!;
    const endpoint = await (publishCall.thisValue as IoTDataPlaneClient).config.endpoint?.();
    assert.equal(endpoint?.hostname, 'a1b2c3-ats.iot.eu-west-1.amazonaws.com');
    assert.equal(endpoint?.protocol, 'https:');
  });

  it('never writes a key to the log, at debug level either', async () => {
    // A second instance of the module (its own container, so to speak) built with DEBUG logging.
    process.env['POWERTOOLS_LOG_LEVEL'] = 'DEBUG';
    const specifier = '../../functions/gateway-uplink.ts?debug-container';
    const debug = (await import(specifier)) as { handler: typeof gatewayUplinkHandler };
    process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
    const written: string[] = [];
    const write = process.stdout.write;
    const errorWrite = process.stderr.write;
    const capture = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    try {
      await debug.handler(ruleEvent(requested('keyed', { requestId: 'r-keyed' })), context);
      await assert.rejects(debug.handler(ruleEvent({ ...requested('keyed'), secret: SECRET }), context));
    } finally {
      process.stdout.write = write;
      process.stderr.write = errorWrite;
    }
    const [sent] = published();
    assert.match(JSON.stringify(sent?.message), new RegExp(SECRET), 'the plan itself carries the key');
    assert.match(written.join(''), /downlink published/, 'the debug container logged');
    assert.doesNotMatch(written.join(''), new RegExp(SECRET));
  });
});
