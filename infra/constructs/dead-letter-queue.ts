import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * An SQS queue that is itself a dead-letter queue (of an IoT rule, a Lambda async invoke, a
 * schedule). Kept 14 days, the SQS maximum, so a failure noticed after a long weekend can
 * still be inspected and redriven. SSE-SQS rather than the table key: the IoT rule and the
 * Scheduler send to it, and neither then needs a grant on a customer key.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: Queue;
  /** What the queue catches, for alarm descriptions. */
  readonly purpose: string;

  constructor(scope: Construct, id: string, purpose: string) {
    super(scope, id);
    this.purpose = purpose;
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This queue is the dead-letter queue of ${purpose}; a dead-letter queue has none of its own.` });
  }
}
