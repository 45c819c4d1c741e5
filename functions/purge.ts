import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { z } from 'zod';
import { makePurgeHandler } from '../shared/lifecycle/account-purge.ts';
import { accountPurgeSchema, purgeScheduleNameOf, type AccountPurge, type PurgeHandler, type PurgeOutcome } from '../shared/lifecycle/purge.ts';
import { EventBridgeLifecycleEvents } from '../server/aws/lifecycle-event-publisher.ts';
import { LIFECYCLE_EVENT_SOURCE } from '../server/aws/lifecycle-publisher.ts';
import { DynamoDbBootstrapStore } from '../server/store/dynamodb-store.ts';
import { readEnvironment } from './runtime/env.ts';
import { observability, withPowertools } from './runtime/powertools.ts';

/** What the invocation did; identifiers only. */
export interface PurgeResult {
  readonly schedule: string;
  readonly endpoint: string;
  readonly securityInstanceId: number;
  readonly outcome: PurgeOutcome;
}

const tools = observability('lwm2m-bs-purge');

let purgeHandler: PurgeHandler | undefined;

/** Built on the first invocation and kept for the container's life. */
function dependencies(): PurgeHandler {
  if (purgeHandler !== undefined) return purgeHandler;
  const env = readEnvironment({ TABLE_NAME: z.string().min(1), EVENT_BUS_NAME: z.string().min(1) });
  const store = new DynamoDbBootstrapStore({
    client: tools.tracer.captureAWSv3Client(new DynamoDBClient({})),
    tableName: env.TABLE_NAME,
    onWarning: (message) => tools.logger.warn(message),
  });
  const events = new EventBridgeLifecycleEvents({
    client: tools.tracer.captureAWSv3Client(new EventBridgeClient({})),
    eventBusName: env.EVENT_BUS_NAME,
    source: LIFECYCLE_EVENT_SOURCE,
  });
  // The gateways' PSK caches are out of reach: the gateway contract has no downlink that
  // invalidates an identity. A gateway keeps a found key for at most 60 s (PskCache, see
  // docs/aws.md), so a revoked identity may complete one more handshake within that minute;
  // the backend refuses the Bootstrap-Request of an identity no longer the device's.
  const onRevoked = (): void => {
    tools.metrics.addMetric('PskIdentitiesRevoked', MetricUnit.Count, 1);
    tools.logger.info('PSK identity revoked; gateway caches forget it within 60 s');
  };
  purgeHandler = makePurgeHandler(store, events, onRevoked, () => new Date());
  return purgeHandler;
}

/**
 * The input Scheduler passes on, the AccountPurge of the schedule (identifiers only). The
 * message names the field at fault, never its value.
 */
export function parsePurgeInput(event: unknown): AccountPurge {
  const parsed = accountPurgeSchema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(input)'}: ${issue.code}`);
  throw new Error(`invalid purge input: ${problems.join('; ')}`);
}

async function handlePurge(event: unknown): Promise<PurgeResult> {
  let purge: AccountPurge;
  try {
    purge = parsePurgeInput(event);
  } catch (error) {
    tools.metrics.addMetric('MalformedPurges', MetricUnit.Count, 1);
    tools.logger.error('malformed purge input', { reason: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  const schedule = purgeScheduleNameOf(purge);
  tools.logger.appendKeys({ endpoint: purge.endpoint, schedule, securityInstanceId: purge.securityInstanceId, reason: purge.reason });
  const outcome = await dependencies()(purge);
  tools.metrics.addMetric(outcome === 'purged' ? 'AccountsPurged' : 'PurgesRepeated', MetricUnit.Count, 1);
  tools.logger.info('purge ran', { outcome });
  return { schedule, endpoint: purge.endpoint, securityInstanceId: purge.securityInstanceId, outcome };
}

/**
 * The purge function, the target of the one-time schedules `EventBridgePurgeScheduler` creates.
 * Scheduler invokes it asynchronously with the schedule's input, the AccountPurge, as the event.
 *
 * Idempotent: Scheduler and Lambda's asynchronous retries deliver at least once, and a purge
 * run again finds the credential revoked, writes nothing and emits no second `AccountPurged`.
 * A failure (the table or the bus unavailable, a malformed input) throws: Lambda retries the
 * invocation, then sends it to the function's on-failure queue with the error message.
 */
export const handler = withPowertools<unknown, PurgeResult>((event: unknown) => handlePurge(event), tools);
