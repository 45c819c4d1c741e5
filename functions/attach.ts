import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IoTClient } from '@aws-sdk/client-iot';
import { z } from 'zod';
import type { BootstrapBackendDeps } from '../shared/bootstrap/backend.ts';
import { planServerInitiated } from '../shared/bootstrap/server-initiated.ts';
import { parseAttachEvent, type AttachEvent } from '../shared/lifecycle/attach-event.ts';
import { MissingProfileError, processAttach, type AttachResult, type InitiateBootstrap } from '../shared/lifecycle/attach-processing.ts';
import type { LifecycleEventSink } from '../shared/lifecycle/lifecycle-events.ts';
import { IotDownlinkPublisher, type DownlinkPublisher } from '../server/aws/downlink-publisher.ts';
import { IotDataEndpoint } from '../server/aws/iot-data-endpoint.ts';
import { EventBridgeLifecycleEvents } from '../server/aws/lifecycle-event-publisher.ts';
import { LIFECYCLE_EVENT_SOURCE } from '../server/aws/lifecycle-publisher.ts';
import { downlinkTopic, isGatewayTopicId } from '../server/aws/topics.ts';
import { DynamoDbBootstrapStore } from '../server/store/dynamodb-store.ts';
import { readEnvironment } from './runtime/env.ts';
import { observability, withPowertools } from './runtime/powertools.ts';
import { ATTACH_DETAIL_TYPE, DEFAULT_GATEWAY_ENV } from './runtime/lifecycle-settings.ts';
import { parseEventBridgeEnvelope, type SqsBatchResponse, type SqsEvent, type SqsRecord } from './runtime/sqs-event.ts';

const tools = observability('lwm2m-bs-attach');

interface AttachDeps {
  readonly store: DynamoDbBootstrapStore;
  readonly backend: BootstrapBackendDeps;
  readonly gatewayId: string | undefined;
  readonly downlinks: DownlinkPublisher | undefined;
  /** SimChanged goes on the stack's bus. */
  readonly events: LifecycleEventSink;
}

let deps: AttachDeps | undefined;

/** Built on the first invocation and kept for the container's life (connections, endpoint). */
function dependencies(): AttachDeps {
  if (deps !== undefined) return deps;
  const env = readEnvironment({
    TABLE_NAME: z.string().min(1),
    EVENT_BUS_NAME: z.string().min(1),
    IOT_DATA_ENDPOINT: z.string().optional(),
    [DEFAULT_GATEWAY_ENV]: z.string().refine(isGatewayTopicId, 'a gateway id: 1 to 64 of A-Z a-z 0-9 _ . : -').optional(),
    PROFILE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(0),
  });
  const store = new DynamoDbBootstrapStore({
    client: tools.tracer.captureAWSv3Client(new DynamoDBClient({})),
    tableName: env.TABLE_NAME,
    profileCacheTtlMs: env.PROFILE_CACHE_TTL_MS,
    onWarning: (message) => tools.logger.warn(message),
  });
  const gatewayId = env[DEFAULT_GATEWAY_ENV];
  const downlinks =
    gatewayId === undefined
      ? undefined
      : new IotDownlinkPublisher(
          new IotDataEndpoint({
            ...(env.IOT_DATA_ENDPOINT !== undefined && { configured: env.IOT_DATA_ENDPOINT }),
            iot: () => tools.tracer.captureAWSv3Client(new IoTClient({})),
          }),
          (client) => tools.tracer.captureAWSv3Client(client),
        );
  const events = new EventBridgeLifecycleEvents({
    client: tools.tracer.captureAWSv3Client(new EventBridgeClient({})),
    eventBusName: env.EVENT_BUS_NAME,
    source: LIFECYCLE_EVENT_SOURCE,
  });
  deps = { store, backend: { store, newSessionId: randomUUID, now: () => new Date() }, gatewayId, downlinks, events };
  return deps;
}

/** Why a message can never be taken, whatever the number of deliveries. */
class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
}

/** The attach event inside one SQS message, or a PermanentFailure naming fields, never values. */
export function attachEventOfRecord(record: Pick<SqsRecord, 'body'>): AttachEvent {
  const envelope = parseEventBridgeEnvelope(record.body);
  if (!envelope.ok) throw new PermanentFailure(envelope.reason);
  if (envelope.envelope['detail-type'] !== ATTACH_DETAIL_TYPE) {
    throw new PermanentFailure(`the event's detail-type is not ${ATTACH_DETAIL_TYPE}`);
  }
  const parsed = parseAttachEvent(envelope.envelope.detail);
  if (!parsed.ok) throw new PermanentFailure(`invalid attach event: ${parsed.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`);
  return parsed.event;
}

/** Plans the bootstrap as for a Bootstrap-Request and hands it to the gateway. */
function initiator({ backend, gatewayId, downlinks }: AttachDeps): InitiateBootstrap | undefined {
  if (gatewayId === undefined || downlinks === undefined) return undefined;
  return async (endpoint, peer, reasons) => {
    const reason = reasons[0];
    if (reason === undefined) throw new Error('no reason to bootstrap was given');
    const planned = await planServerInitiated(backend, endpoint, peer, reason, { gatewayId });
    // A refusal is on the device's status already; the mark stays for its next request.
    if (!planned.ok) throw new Error(`the bootstrap was refused (${planned.reason}): ${planned.detail}`);
    await downlinks.publish(gatewayId, planned.downlink);
    tools.logger.info('bootstrap-initiate published', { endpoint, topic: downlinkTopic(gatewayId), sessionId: planned.downlink.sessionId, transport: planned.downlink.transport, reason });
  };
}

type RecordOutcome = { readonly ok: true; readonly result: AttachResult } | { readonly ok: false };

async function handleRecord(record: SqsRecord): Promise<RecordOutcome> {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount);
  const where = { messageId: record.messageId, receiveCount };
  try {
    const event = attachEventOfRecord(record);
    const current = dependencies();
    const initiate = initiator(current);
    const result = await processAttach({ store: current.store, now: current.backend.now, events: current.events, ...(initiate !== undefined && { initiate }) }, event);
    report(where, event, result);
    return { ok: true, result };
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'unknown error';
    if (error instanceof PermanentFailure || error instanceof MissingProfileError) {
      // Failed on purpose: after maxReceiveCount deliveries the queue moves it to its
      // dead-letter queue, under this message id, which this line ties to the reason.
      tools.metrics.addMetric('AttachEventsRejected', MetricUnit.Count, 1);
      tools.logger.error('attach event rejected: it will reach the dead-letter queue', { ...where, reason });
    } else {
      tools.metrics.addMetric('AttachEventsRetried', MetricUnit.Count, 1);
      tools.logger.warn('attach event failed: it will be delivered again', { ...where, reason, error: error instanceof Error ? error.name : 'unknown' });
    }
    return { ok: false };
  }
}

function report(where: { messageId: string; receiveCount: number }, event: AttachEvent, result: AttachResult): void {
  tools.metrics.addMetric(`Attach_${result.outcome}`, MetricUnit.Count, 1);
  const fields = {
    ...where,
    eventId: event.eventId,
    outcome: result.outcome,
    ...(result.endpoint !== undefined && { endpoint: result.endpoint }),
    ...(result.reasons !== undefined && { reasons: result.reasons.join(',') }),
    ...(result.simChanged !== undefined && { simChanged: true }),
  };
  if (result.initiateError !== undefined) tools.logger.warn('device marked for bootstrap; the push failed', { ...fields, initiateError: result.initiateError });
  else tools.logger.info('attach event taken', fields);
}

/**
 * The attach function: an SQS event source mapping with `ReportBatchItemFailures` hands it up
 * to 10 messages, each an EventBridge event whose `detail` is an attach event. Each message is
 * taken on its own, concurrently; the answer names the ones to deliver again.
 *
 * - Taken (recorded, marked, initiated, a duplicate or stale event, an unknown device): deleted.
 *   A duplicate is what a redelivery of a taken message becomes, so redelivery is harmless.
 * - Transient failures (a throttled or unavailable table, lifecycle write contention): reported,
 *   so SQS delivers that message again after the visibility timeout, and only that message.
 * - Messages that can never be taken (not an EventBridge event, not a DeviceAttached, an attach
 *   event the schema refuses, a device naming a missing profile): also reported, and logged at
 *   error with the message id and the reason (field paths and rules, never values). After
 *   maxReceiveCount deliveries SQS moves them to the dead-letter queue, whose alarm fires; the
 *   message keeps its id there, so the log line gives its reason. Moving them at once would need
 *   sqs:SendMessage from the function and an SQS client, which is not a dependency.
 *
 * A new card (an ICCID other than the one on record) disables the device's smartcard, puts the
 * new ICCID on its entry and announces `SimChanged` on the stack's bus (source `lwm2m-bs`).
 *
 * The push itself (plan, then `bootstrap-initiate` on the default gateway's downlink topic)
 * failing does not fail the message: the device is marked first, and its next
 * Bootstrap-Request is served.
 */
export async function handleAttachBatch(event: SqsEvent): Promise<SqsBatchResponse> {
  const outcomes = await Promise.all(event.Records.map(async (record) => ({ record, outcome: await handleRecord(record) })));
  return { batchItemFailures: outcomes.filter(({ outcome }) => !outcome.ok).map(({ record }) => ({ itemIdentifier: record.messageId })) };
}

export const handler = withPowertools<SqsEvent, SqsBatchResponse>((event: SqsEvent) => handleAttachBatch(event), tools);
