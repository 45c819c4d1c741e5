import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IoTClient } from '@aws-sdk/client-iot';
import { z } from 'zod';
import { pskRevocation } from '../shared/bootstrap/psk-revocation.ts';
import { makePurgeHandler, type PurgeStore } from '../shared/lifecycle/account-purge.ts';
import type { LifecycleEventSink } from '../shared/lifecycle/lifecycle-events.ts';
import { accountPurgeSchema, purgeScheduleNameOf, type AccountPurge, type PurgeOutcome } from '../shared/lifecycle/purge.ts';
import { IotDataEndpoint } from '../server/aws/iot-data-endpoint.ts';
import { EventBridgeLifecycleEvents } from '../server/aws/lifecycle-event-publisher.ts';
import { LIFECYCLE_EVENT_SOURCE } from '../server/aws/lifecycle-publisher.ts';
import { IotPskRevocationPublisher, type PskRevocationPublisher } from '../server/aws/psk-revocation-publisher.ts';
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

interface PurgeDeps {
  readonly store: PurgeStore;
  readonly events: LifecycleEventSink;
  readonly revocations: PskRevocationPublisher;
}

let deps: PurgeDeps | undefined;

/** Built on the first invocation and kept for the container's life. */
function dependencies(): PurgeDeps {
  if (deps !== undefined) return deps;
  const env = readEnvironment({ TABLE_NAME: z.string().min(1), EVENT_BUS_NAME: z.string().min(1), IOT_DATA_ENDPOINT: z.string().optional() });
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
  const endpoint = new IotDataEndpoint({
    ...(env.IOT_DATA_ENDPOINT !== undefined && { configured: env.IOT_DATA_ENDPOINT }),
    iot: () => tools.tracer.captureAWSv3Client(new IoTClient({})),
  });
  deps = { store, events, revocations: new IotPskRevocationPublisher(endpoint, (client) => tools.tracer.captureAWSv3Client(client)) };
  return deps;
}

/**
 * Tells the gateways to forget a revoked PSK identity (lwm2m-bs/psk-revocations): each drops it
 * from its PSK cache, so the identity cannot complete another handshake from a key cached
 * before the purge (up to 60 s otherwise). The message names the identity, never a key.
 *
 * A failed publish does not stop the purge: the AccountPurged event still goes out, and only
 * then does the invocation fail. Failing it is what gets the message sent again: the repeated
 * purge finds the credential revoked ('already-purged', and `onRevoked` does not run), so it
 * announces the identity of its input once more, and past Lambda's retries the input waits in
 * the purge-failures queue where an operator sees it. A retry comes a minute or more later,
 * when a gateway's 60 s cache has let the key go anyway; what failing buys is that a lost IoT
 * grant or an IoT outage shows as failed invocations, not as a log line.
 */
class RevocationAnnouncer {
  readonly #revocations: PskRevocationPublisher;
  readonly #at: Date;
  #failure: { readonly error: unknown } | undefined;

  constructor(revocations: PskRevocationPublisher, at: Date) {
    this.#revocations = revocations;
    this.#at = at;
  }

  async announce(identity: string): Promise<void> {
    try {
      await this.#revocations.publish(pskRevocation(identity, this.#at));
      tools.metrics.addMetric('PskRevocationsPublished', MetricUnit.Count, 1);
    } catch (error) {
      this.#failure = { error };
      tools.metrics.addMetric('PskRevocationPublishFailures', MetricUnit.Count, 1);
      tools.logger.error('PSK revocation not published; the invocation will fail so that a retry publishes it', { reason: reasonOf(error) });
    }
  }

  /** Throws, after everything else the purge does, when a publish failed. */
  settle(): void {
    if (this.#failure !== undefined) throw new Error(`the PSK revocation is stored but the gateways were not told: ${reasonOf(this.#failure.error)}`);
  }
}

const reasonOf = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : 'publish failed');

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
  const { store, events, revocations } = dependencies();
  const at = new Date();
  const announcer = new RevocationAnnouncer(revocations, at);
  const onRevoked = async (identity: string): Promise<void> => {
    tools.metrics.addMetric('PskIdentitiesRevoked', MetricUnit.Count, 1);
    tools.logger.info('PSK identity revoked; telling the gateways to forget it');
    await announcer.announce(identity);
  };
  const outcome = await makePurgeHandler(store, events, onRevoked, () => at)(purge);
  // A repeated purge of a PSK account announces its identity again: this run may be the retry
  // of one whose publish failed, and nothing stored tells that apart from a duplicate delivery.
  // One more message costs a gateway at most one lookup of an identity it has cached.
  if (outcome === 'already-purged' && purge.pskIdentity !== undefined) await announcer.announce(purge.pskIdentity);
  tools.metrics.addMetric(outcome === 'purged' ? 'AccountsPurged' : 'PurgesRepeated', MetricUnit.Count, 1);
  tools.logger.info('purge ran', { outcome });
  announcer.settle();
  return { schedule, endpoint: purge.endpoint, securityInstanceId: purge.securityInstanceId, outcome };
}

/**
 * The purge function, the target of the one-time schedules `EventBridgePurgeScheduler` creates.
 * Scheduler invokes it asynchronously with the schedule's input, the AccountPurge, as the event.
 *
 * Idempotent: Scheduler and Lambda's asynchronous retries deliver at least once, and a purge
 * run again finds the credential revoked, writes nothing and emits no second `AccountPurged`;
 * it only tells the gateways about the identity again (see RevocationAnnouncer). A failure (the
 * table, the bus or IoT unavailable, a malformed input) throws: Lambda retries the invocation,
 * then sends it to the function's on-failure queue with the error message.
 */
export const handler = withPowertools<unknown, PurgeResult>((event: unknown) => handlePurge(event), tools);
