import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/**
 * Ready for account-timeout purges (the Bootstrap-Server account a client must drop after
 * /0/x/12): a schedule group to hold one-off schedules per device, the role the Scheduler
 * assumes to invoke the purge function, and the queue for invocations that keep failing.
 * No purge function exists yet, so the role may invoke the functions of this stack only.
 */
export class Scheduler extends Construct {
  readonly group: ScheduleGroup;
  readonly executionRole: Role;
  readonly failures: DeadLetterQueue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.group = new ScheduleGroup(this, 'Group');
    this.failures = new DeadLetterQueue(this, 'PurgeFailures', 'the purge schedules (EventBridge Scheduler target dead-letter queue)');
    this.executionRole = new Role(this, 'ExecutionRole', {
      description: 'lwm2m-bs: assumed by EventBridge Scheduler to run purge schedules',
      // Confused deputy: only schedules of this account's group may assume it.
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.group.scheduleGroupName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }) },
        },
      }),
    });
    this.failures.queue.grantSendMessages(this.executionRole);
    // No invoke right yet: the purge function arrives with the credential lifecycle, and a grant
    // on the stack's other functions would let a schedule forge a gateway's uplink.
  }

  /** Lets schedules of this group invoke exactly `target` (the purge function). */
  allowInvoke(target: IFunction): void {
    target.grantInvoke(this.executionRole);
  }
}
