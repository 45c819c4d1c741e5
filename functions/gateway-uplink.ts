import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IoTClient } from '@aws-sdk/client-iot';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { z } from 'zod';
import { ContractError, handleUplink, type BootstrapBackendDeps } from '../shared/bootstrap/backend.ts';
import { CONTRACT_VERSION, uplinkSchema, type BootstrapEnded, type Downlink, type Uplink } from '../shared/bootstrap/contract.ts';
import { ContentFormat } from '../shared/content/format.ts';
import { IotDownlinkPublisher, type DownlinkPublisher } from '../server/aws/downlink-publisher.ts';
import { EventBridgePurgeScheduler } from '../server/aws/eventbridge-purge-scheduler.ts';
import { IotDataEndpoint } from '../server/aws/iot-data-endpoint.ts';
import { EventBridgeLifecycleEvents } from '../server/aws/lifecycle-event-publisher.ts';
import { EventBridgeLifecyclePublisher, LIFECYCLE_EVENT_SOURCE, lifecycleEventOf, type LifecyclePublisher } from '../server/aws/lifecycle-publisher.ts';
import { KmsKeySealer, kmsEncrypt, SERVER_CREDENTIALS_KEY_ENV } from '../server/aws/kms-key-sealer.ts';
import { downlinkTopic, isGatewayTopicId } from '../server/aws/topics.ts';
import { DynamoDbBootstrapStore } from '../server/store/dynamodb-store.ts';
import { readEnvironment } from './runtime/env.ts';
import { PURGE_SCHEDULER_ENV } from './runtime/lifecycle-settings.ts';
import { observability, withPowertools } from './runtime/powertools.ts';

/** What the invocation did; nothing in it can carry a key. */
export interface GatewayUplinkResult {
  readonly gatewayId: string;
  readonly uplink: Uplink['type'];
  readonly downlink: Downlink['type'];
  readonly endpoint: string;
  readonly lifecycleEvent?: 'BootstrapCompleted' | 'BootstrapFailed';
}

const tools = observability('lwm2m-bs-gateway-uplink');

interface UplinkDeps {
  readonly backend: BootstrapBackendDeps;
  readonly downlinks: DownlinkPublisher;
  readonly lifecycle: LifecyclePublisher;
}

let deps: UplinkDeps | undefined;

/** Built on the first invocation and kept for the container's life (connections, endpoint). */
function dependencies(): UplinkDeps {
  if (deps !== undefined) return deps;
  const env = readEnvironment({
    TABLE_NAME: z.string().min(1),
    EVENT_BUS_NAME: z.string().min(1),
    IOT_DATA_ENDPOINT: z.string().optional(),
    /** Reuse a profile read for this long (fewer reads per bootstrap, slower to see edits). */
    PROFILE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(0),
    // Required, not optional: a stack that forgot them would leave timed-out Bootstrap-Server
    // accounts authenticating for ever, with nothing to show for it.
    [PURGE_SCHEDULER_ENV.groupName]: z.string().min(1),
    [PURGE_SCHEDULER_ENV.targetArn]: z.string().startsWith('arn:'),
    [PURGE_SCHEDULER_ENV.roleArn]: z.string().startsWith('arn:'),
    [PURGE_SCHEDULER_ENV.deadLetterArn]: z.string().startsWith('arn:'),
    // Required too: without it, minted LwM2M Server keys would reach the bus with no key at all.
    [SERVER_CREDENTIALS_KEY_ENV]: z.string().min(1),
  });
  const store = new DynamoDbBootstrapStore({
    client: tools.tracer.captureAWSv3Client(new DynamoDBClient({})),
    tableName: env.TABLE_NAME,
    profileCacheTtlMs: env.PROFILE_CACHE_TTL_MS,
    onWarning: (message) => tools.logger.warn(message),
  });
  const endpoint = new IotDataEndpoint({
    ...(env.IOT_DATA_ENDPOINT !== undefined && { configured: env.IOT_DATA_ENDPOINT }),
    iot: () => tools.tracer.captureAWSv3Client(new IoTClient({})),
  });
  const purges = new EventBridgePurgeScheduler({
    // @aws-sdk/client-scheduler is a devDependency like the other SDK clients: esbuild bundles
    // every import into the function (externalModules: [], see infra/constructs/functions.ts),
    // so nothing is resolved from node_modules at run time.
    client: tools.tracer.captureAWSv3Client(new SchedulerClient({})),
    groupName: env[PURGE_SCHEDULER_ENV.groupName],
    targetArn: env[PURGE_SCHEDULER_ENV.targetArn],
    roleArn: env[PURGE_SCHEDULER_ENV.roleArn],
    deadLetterArn: env[PURGE_SCHEDULER_ENV.deadLetterArn],
  });
  const eventBridge = tools.tracer.captureAWSv3Client(new EventBridgeClient({}));
  // ServerCredentialsIssued (profiles with mintServerCredentials), the key sealed with KMS for
  // the LwM2M server side. The KMS client is made at the first seal (kmsEncrypt): a function
  // whose profiles never mint does not pay for it at cold start.
  const events = new EventBridgeLifecycleEvents({ client: eventBridge, eventBusName: env.EVENT_BUS_NAME, source: LIFECYCLE_EVENT_SOURCE });
  const keySealer = new KmsKeySealer({
    keyId: env[SERVER_CREDENTIALS_KEY_ENV],
    encrypt: kmsEncrypt({ wrap: (client) => tools.tracer.captureAWSv3Client(client) }),
  });
  deps = {
    backend: { store, newSessionId: randomUUID, now: () => new Date(), purges, events, keySealer },
    downlinks: new IotDownlinkPublisher(endpoint, (client) => tools.tracer.captureAWSv3Client(client)),
    lifecycle: new EventBridgeLifecyclePublisher(env.EVENT_BUS_NAME, eventBridge),
  };
  return deps;
}

/** The event as the rule delivers it: the message, and who sent it. */
export function parseGatewayUplinkEvent(event: unknown): { gatewayId: string; uplink: Uplink } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new ContractError('the event is not a JSON object');
  const { gatewayTopicId, ...message } = event as Record<string, unknown>;
  if (typeof gatewayTopicId !== 'string' || !isGatewayTopicId(gatewayTopicId)) {
    throw new ContractError('the event has no valid gatewayTopicId (the topic rule must SELECT topic(3) AS gatewayTopicId)');
  }
  const parsed = uplinkSchema.safeParse(message);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContractError(`invalid uplink from gateway ${gatewayTopicId} at ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'unknown'}`);
  }
  if (parsed.data.gatewayId !== gatewayTopicId) {
    throw new ContractError(`uplink names gateway ${parsed.data.gatewayId} but arrived on the topic of gateway ${gatewayTopicId}`);
  }
  return { gatewayId: gatewayTopicId, uplink: parsed.data };
}

async function handleGatewayUplink(event: unknown): Promise<GatewayUplinkResult> {
  let parsed: { gatewayId: string; uplink: Uplink };
  try {
    parsed = parseGatewayUplinkEvent(event);
  } catch (error) {
    tools.metrics.addMetric('MalformedUplinks', MetricUnit.Count, 1);
    tools.logger.error('malformed uplink', { reason: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  const { gatewayId, uplink } = parsed;
  const { backend, downlinks, lifecycle } = dependencies();
  tools.logger.appendKeys({ gatewayId, endpoint: uplink.endpoint, uplink: uplink.type });

  const downlink = await handleUplink(uplink, backend);
  // The gateway is waiting on this (its client is, too): publish before anything else.
  await downlinks.publish(gatewayId, downlink);
  tools.metrics.addMetric(metricName(downlink), MetricUnit.Count, 1);
  tools.logger.info('downlink published', { topic: downlinkTopic(gatewayId), ...summary(downlink) });

  const ended = endedBootstrap(uplink, downlink);
  if (ended === undefined) return { gatewayId, uplink: uplink.type, downlink: downlink.type, endpoint: uplink.endpoint };
  const lifecycleEvent = lifecycleEventOf(ended);
  try {
    await lifecycle.publish(lifecycleEvent);
  } catch (error) {
    // Failing the invocation now would make Lambda retry the whole uplink: a second plan, with
    // keys, that nothing waits for. The outcome is in the table; the missed event is counted.
    tools.logger.error('lifecycle event not delivered', { detailType: lifecycleEvent.detailType, sessionId: ended.sessionId, reason: error instanceof Error ? error.message : String(error) });
    tools.metrics.addMetric('LifecycleEventFailed', MetricUnit.Count, 1);
    return { gatewayId, uplink: uplink.type, downlink: downlink.type, endpoint: uplink.endpoint };
  }
  tools.metrics.addMetric(lifecycleEvent.detailType, MetricUnit.Count, 1);
  return { gatewayId, uplink: uplink.type, downlink: downlink.type, endpoint: uplink.endpoint, lifecycleEvent: lifecycleEvent.detailType };
}

function metricName(downlink: Downlink): string {
  switch (downlink.type) {
    case 'bootstrap-planned':
      return 'BootstrapsPlanned';
    case 'bootstrap-rejected':
      return 'BootstrapsRejected';
    case 'bootstrap-recorded':
      return 'OutcomesRecorded';
  }
}

/** Log fields of a downlink; a plan is never logged (it carries keys). */
function summary(downlink: Downlink): Record<string, string | boolean> {
  switch (downlink.type) {
    case 'bootstrap-planned':
      return { downlink: downlink.type, requestId: downlink.requestId, sessionId: downlink.sessionId };
    case 'bootstrap-rejected':
      return { downlink: downlink.type, requestId: downlink.requestId, reason: downlink.reason };
    case 'bootstrap-recorded':
      return { downlink: downlink.type, sessionId: downlink.sessionId, stored: downlink.stored };
  }
}

/**
 * The uplink function. The topic rule `SELECT *, topic(3) AS gatewayTopicId FROM
 * 'lwm2m-bs/gateways/+/uplink'` invokes it with a contract message plus the gateway id of the
 * topic it arrived on; the answer goes back on that gateway's downlink topic.
 *
 * A malformed event throws a ContractError naming the field, and nothing is recorded or
 * published. The rule invokes Lambda asynchronously, so such an event ends in the function's
 * on-failure destination (the DLQ) with that message; retrying it cannot help, and a
 * bootstrap-requested answered after the gateway's timeout is ignored by the gateway, so the
 * stack should keep async retries at 0 or 1 and the event age short.
 *
 * A `bootstrap-ended` success the table takes also schedules (EventBridge Scheduler, one
 * one-time schedule per account in the stack's group) the purge of a Bootstrap-Server account
 * written with an Account Timeout, or cancels the one an earlier bootstrap scheduled when the
 * account is now written without. That happens before the downlink is published: if Scheduler
 * fails, the invocation fails and nothing is announced. The outcome is stored by then, and the
 * same `bootstrap-ended` comes again (Lambda's retry, the gateway's resend of an unanswered
 * uplink): recordStatus takes the same session again, and the success steps are idempotent for
 * it (see account-replacement-step.ts), so the second run finishes what the first began.
 *
 * A success that delivered minted LwM2M Server credentials (profile `mintServerCredentials`)
 * puts one `ServerCredentialsIssued` per account on the bus, the key sealed with KMS under
 * SERVER_CREDENTIALS_KEY_ARN and bound to {endpoint, shortServerId}, and only then writes the
 * keys to the device entry. A KMS or EventBridge failure fails the invocation the same way:
 * nothing is promoted, the device entry keeps the old keys, and the retry promotes (the events
 * are at least once).
 *
 * The topic's gateway id is the authenticated one (the IoT policy lets a gateway publish on its
 * own topic only); the gatewayId inside the message is what the gateway says. They must agree,
 * or one gateway could report outcomes in another's name.
 */
export const handler = withPowertools<unknown, GatewayUplinkResult>((event: unknown) => handleGatewayUplink(event), tools);

/**
 * The bootstrap this exchange ended, if any: a `bootstrap-ended` uplink the table took, or a
 * Bootstrap-Pack the backend recorded as served while planning it (that pack sends no
 * `bootstrap-ended`). For `kind: 'bspack'` the event means "served", not "confirmed by the
 * client": LwM2M has the client confirm nothing, and a gateway that then fails to serve it
 * records a failure, which is announced in turn.
 */
function endedBootstrap(uplink: Uplink, downlink: Downlink): BootstrapEnded | undefined {
  // An outcome the table refused (older than the one it holds, or a repeat) announces nothing.
  if (uplink.type === 'bootstrap-ended') return downlink.type === 'bootstrap-recorded' && downlink.stored ? uplink : undefined;
  if (downlink.type !== 'bootstrap-planned' || downlink.outcomeRecorded !== true) return undefined;
  return {
    v: CONTRACT_VERSION,
    type: 'bootstrap-ended',
    sessionId: downlink.sessionId,
    gatewayId: uplink.gatewayId,
    endpoint: uplink.endpoint,
    kind: 'bspack',
    outcome: 'success',
    clientVersion: '1.2',
    contentFormat: uplink.accept ?? ContentFormat.SENML_CBOR,
    startedAt: uplink.receivedAt,
    endedAt: new Date().toISOString(),
  };
}
