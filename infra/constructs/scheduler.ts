import { ArnFormat, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/** How every purge schedule's name starts (purgeScheduleName). */
export const PURGE_SCHEDULE_PREFIX = 'purge-';

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
  /**
   * The purge schedules of the group, and nothing else in it: every name purgeScheduleName
   * (shared/lifecycle/purge.ts) makes is `purge-<hash>-<instance>`.
   */
  readonly purgeSchedulesArn: string;

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
    this.purgeSchedulesArn = stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.group.scheduleGroupName}/${PURGE_SCHEDULE_PREFIX}*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
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

  /**
   * Lets `fn` (the uplink function, which schedules a purge when a bootstrap succeeds) create,
   * replace and cancel this group's purge schedules, and hand them the execution role: the
   * Scheduler checks iam:PassRole on the caller when a schedule names a role. PassRole is on
   * that role only, and only towards Scheduler, so the function cannot give it to anything else.
   * It may not read or list schedules: EventBridgePurgeScheduler never does.
   */
  grantManagePurges(fn: IFunction): void {
    fn.addToRolePolicy(new PolicyStatement({ actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'], resources: [this.purgeSchedulesArn] }));
    fn.addToRolePolicy(new PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [this.executionRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }));
    if (fn.role === undefined) return;
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${this.group.scheduleGroupName}/${PURGE_SCHEDULE_PREFIX}*]`,
      reason: 'Purge schedules are one per Bootstrap-Server account, named purge-<hash>-<instance> and made at run time: the wildcard covers those names in this stack\'s own group only.',
    });
  }
}
