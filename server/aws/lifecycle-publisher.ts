import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { BootstrapEnded } from '../../shared/bootstrap/contract.ts';

export const LIFECYCLE_EVENT_SOURCE = 'lwm2m-bs';

export type LifecycleDetailType = 'BootstrapCompleted' | 'BootstrapFailed';

/**
 * What other systems learn of a bootstrap. Deliberately a copy of a few fields rather than the
 * whole outcome: `reads` and `detail` can quote what the client sent, and nothing that could
 * carry a key belongs on a bus other accounts may subscribe to.
 */
export interface BootstrapLifecycleDetail {
  readonly endpoint: string;
  readonly sessionId: string;
  readonly outcome: BootstrapEnded['outcome'];
  readonly clientVersion?: string;
  readonly contentFormat?: number;
  readonly kind: BootstrapEnded['kind'];
  readonly startedAt: string;
  readonly endedAt: string;
}

export interface LifecycleEvent {
  readonly detailType: LifecycleDetailType;
  readonly detail: BootstrapLifecycleDetail;
}

export function lifecycleEventOf(ended: BootstrapEnded): LifecycleEvent {
  return {
    detailType: ended.outcome === 'success' ? 'BootstrapCompleted' : 'BootstrapFailed',
    detail: {
      endpoint: ended.endpoint,
      sessionId: ended.sessionId,
      outcome: ended.outcome,
      ...(ended.clientVersion !== undefined && { clientVersion: ended.clientVersion }),
      ...(ended.contentFormat !== undefined && { contentFormat: ended.contentFormat }),
      kind: ended.kind,
      startedAt: ended.startedAt,
      endedAt: ended.endedAt,
    },
  };
}

export interface LifecyclePublisher {
  publish(event: LifecycleEvent): Promise<void>;
}

/**
 * Delivery is at least once: an outcome the gateway sends again (its downlink was lost) is
 * recorded and published again, so consumers deduplicate on `sessionId`.
 */
export class EventBridgeLifecyclePublisher implements LifecyclePublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  constructor(busName: string, client: EventBridgeClient = new EventBridgeClient({})) {
    this.#busName = busName;
    this.#client = client;
  }

  async publish(event: LifecycleEvent): Promise<void> {
    const output = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: LIFECYCLE_EVENT_SOURCE,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures; the only entry failing is a failure.
    if ((output.FailedEntryCount ?? 0) > 0) {
      const entry = output.Entries?.[0];
      throw new Error(`EventBridge refused the ${event.detailType} event of ${event.detail.endpoint}: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim());
    }
  }
}
