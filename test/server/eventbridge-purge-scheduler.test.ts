import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgePurgeScheduler, atExpression } from '../../server/aws/eventbridge-purge-scheduler.ts';
import { purgeScheduleName, type AccountPurge } from '../../shared/lifecycle/purge.ts';

// Mocked with aws-sdk-client-mock: EventBridge Scheduler has no local stand-in (neither dynalite
// nor anything installed here speaks its API), so these tests pin the requests sent instead.
const scheduler = mockClient(SchedulerClient);

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const options = {
  client: new SchedulerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  groupName: 'lwm2m-bs-purges',
  targetArn: 'arn:aws:lambda:eu-west-1:123456789012:function:purge',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler-exec',
  deadLetterArn: 'arn:aws:sqs:eu-west-1:123456789012:purge-failures',
  now: () => NOW,
};

const purge: AccountPurge = {
  endpoint: 'urn:imei:490154203237518',
  securityInstanceId: 2,
  pskIdentity: 'bs-490154203237518',
  reason: 'account-timeout',
  dueAt: '2026-03-01T13:00:00.250Z',
  scheduledAt: '2026-03-01T12:00:00.000Z',
  bootstrapSessionId: 'session-7',
};

const conflict = (): ConflictException => new ConflictException({ message: 'Schedule already exists.', Message: 'Schedule already exists.', $metadata: {} });
const notFound = (): ResourceNotFoundException => new ResourceNotFoundException({ message: 'Schedule does not exist.', Message: 'Schedule does not exist.', $metadata: {} });

function expectedInput(at: string, input: AccountPurge = purge): Record<string, unknown> {
  return {
    Name: purgeScheduleName(input.endpoint, input.securityInstanceId, input.reason),
    GroupName: 'lwm2m-bs-purges',
    ScheduleExpression: `at(${at})`,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    Target: {
      Arn: options.targetArn,
      RoleArn: options.roleArn,
      Input: JSON.stringify(input),
      RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      DeadLetterConfig: { Arn: options.deadLetterArn },
    },
  };
}

describe('EventBridgePurgeScheduler', () => {
  beforeEach(() => scheduler.reset());

  it('creates a one-time UTC schedule that deletes itself and carries the purge as input', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    await new EventBridgePurgeScheduler(options).schedule(purge);
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    assert.equal(calls.length, 1);
    // Rounded up to the second: never before the due time.
    assert.deepEqual(calls[0]?.args[0].input, expectedInput('2026-03-01T13:00:01'));
    assert.match(calls[0]?.args[0].input.Name ?? '', /^purge-[0-9a-f]{40}-2$/);
    assert.deepEqual(JSON.parse(calls[0]?.args[0].input.Target?.Input ?? ''), purge);
    assert.equal(scheduler.commandCalls(UpdateScheduleCommand).length, 0);
  });

  it('refuses a purge carrying anything beyond identifiers, before calling AWS', async () => {
    const withKey = { ...purge, secretKey: '000102030405060708090a0b0c0d0e0f' } as AccountPurge;
    await assert.rejects(new EventBridgePurgeScheduler(options).schedule(withKey), (error: Error) => !error.message.includes('000102030405'));
    assert.equal(scheduler.calls().length, 0);
  });

  it('replaces the schedule of an earlier bootstrap with an UpdateSchedule of the same input', async () => {
    scheduler.on(CreateScheduleCommand).rejects(conflict());
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    const replacement: AccountPurge = { ...purge, reason: 'replaced', dueAt: '2026-03-02T00:00:00.000Z', bootstrapSessionId: 'session-8' };
    await new EventBridgePurgeScheduler(options).schedule(replacement);
    assert.equal(scheduler.commandCalls(CreateScheduleCommand).length, 1);
    const updates = scheduler.commandCalls(UpdateScheduleCommand);
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]?.args[0].input, expectedInput('2026-03-02T00:00:00', replacement));
  });

  it('creates again when the conflicting schedule ran and was deleted before the update', async () => {
    scheduler.on(CreateScheduleCommand).rejectsOnce(conflict()).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    scheduler.on(UpdateScheduleCommand).rejects(notFound());
    await new EventBridgePurgeScheduler(options).schedule(purge);
    assert.equal(scheduler.commandCalls(CreateScheduleCommand).length, 2);
    assert.equal(scheduler.commandCalls(UpdateScheduleCommand).length, 1);
  });

  it('passes other errors on', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new ValidationException({ message: 'bad', Message: 'bad', $metadata: {} }));
    await assert.rejects(new EventBridgePurgeScheduler(options).schedule(purge), ValidationException);
    assert.equal(scheduler.commandCalls(UpdateScheduleCommand).length, 0);
  });

  it('schedules a purge already due a minute ahead, since Scheduler runs no at() in the past', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    const overdue: AccountPurge = { ...purge, dueAt: '2026-03-01T11:00:00.000Z' };
    await new EventBridgePurgeScheduler(options).schedule(overdue);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
    assert.equal(input?.ScheduleExpression, 'at(2026-03-01T12:01:00)');
    // The purge itself keeps its due time.
    assert.equal(JSON.parse(input?.Target?.Input ?? '').dueAt, overdue.dueAt);
    assert.equal(atExpression(NOW + 10_000, NOW), 'at(2026-03-01T12:01:00)', 'less than a minute ahead is too close');
    assert.equal(atExpression(NOW + 60_001, NOW), 'at(2026-03-01T12:01:01)');
  });

  it('cancels with DeleteSchedule, false when there is no such schedule', async () => {
    scheduler.on(DeleteScheduleCommand).resolvesOnce({}).rejects(notFound());
    const purges = new EventBridgePurgeScheduler(options);
    assert.equal(await purges.cancel(purge.endpoint, 2), true);
    assert.equal(await purges.cancel(purge.endpoint, 2), false);
    const deletes = scheduler.commandCalls(DeleteScheduleCommand);
    assert.deepEqual(deletes[0]?.args[0].input, { Name: purgeScheduleName(purge.endpoint, 2), GroupName: 'lwm2m-bs-purges' });
    scheduler.on(DeleteScheduleCommand).rejects(new ValidationException({ message: 'bad', Message: 'bad', $metadata: {} }));
    await assert.rejects(purges.cancel(purge.endpoint, 2), ValidationException);
  });
});
