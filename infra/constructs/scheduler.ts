import { ArnFormat, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/**
 * Account-timeout purges (the Bootstrap-Server account a client must drop after /0/x/12): a
 * schedule group to hold one-off schedules per device, the role the Scheduler assumes to
 * invoke the purge function, and the queue for invocations Scheduler could not make. The role
 * may invoke nothing until `allowInvoke` names the purge function, and then that one only.
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
    // No invoke right here: a grant on the stack's other functions would let a schedule forge a
    // gateway's uplink or an attach.
  }

  /**
   * Lets schedules of this group invoke exactly `target` (the purge function): its ARN and its
   * versions and aliases (`<arn>:*`, which is how grantInvoke scopes it), nothing else.
   */
  allowInvoke(target: IFunction): void {
    target.grantInvoke(this.executionRole);
    Validations.of(this.executionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(target.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'lambda:InvokeFunction on the purge function\'s own versions and aliases (<arn>:*), the qualified forms of the one function schedules may invoke.',
    });
  }
}
