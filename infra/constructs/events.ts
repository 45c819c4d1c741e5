import { Duration, Stack } from 'aws-cdk-lib';
import { Archive, EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

/**
 * The bus for carrier and lifecycle events (`BootstrapCompleted`, `BootstrapFailed`, later
 * `AccountPurged`), so other systems react without calling us. The archive keeps a month of
 * them to replay into a consumer that was down or deployed late.
 */
export class Events extends Construct {
  readonly bus: EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Named after the stack, so a staging and a production stack can share an account and region.
    this.bus = new EventBus(this, 'Bus', { eventBusName: `${Stack.of(this).stackName}-events` });
    new Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      description: 'lwm2m-bs lifecycle events, for replay',
      // Every event put on this bus comes from this account; a pattern is required.
      eventPattern: { account: [Stack.of(this).account] },
      retention: Duration.days(30),
    });
  }
}
