import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { parseLifecycleEvent, type LifecycleEvent, type LifecycleEventSink } from '../../shared/lifecycle/lifecycle-events.ts';

export interface EventBridgeLifecycleEventsOptions {
  readonly client: EventBridgeClient;
  readonly eventBusName: string;
  /** The events' `source`, which rules on the bus match on. */
  readonly source: string;
}

/**
 * Lifecycle events on the EventBridge bus, beside BootstrapCompleted and BootstrapFailed
 * (lifecycle-publisher.ts): detail-type is the event's `type`, the detail the whole event, so a
 * consumer validates it with lifecycleEventSchema. Delivery is at least once; consumers
 * deduplicate (AccountPurged on endpoint, securityInstanceId and sessionId).
 */
export class EventBridgeLifecycleEvents implements LifecycleEventSink {
  readonly #options: EventBridgeLifecycleEventsOptions;

  constructor(options: EventBridgeLifecycleEventsOptions) {
    this.#options = options;
  }

  async emit(event: LifecycleEvent): Promise<void> {
    // Validated again here: the strict schema is what keeps a key off a bus other accounts read.
    const checked = parseLifecycleEvent(event);
    const output = await this.#options.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#options.eventBusName,
            Source: this.#options.source,
            DetailType: checked.type,
            Detail: JSON.stringify(checked),
            Time: new Date(checked.time),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures. The error names the detail type and
    // EventBridge's code only: the message may quote the entry.
    if ((output.FailedEntryCount ?? 0) > 0) {
      throw new Error(`EventBridge refused a ${checked.type} lifecycle event: ${output.Entries?.[0]?.ErrorCode ?? 'no error code'}`);
    }
  }
}
