import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { accountPurgeSchema, purgeScheduleName, purgeScheduleNameOf, type AccountPurge, type PurgeScheduler } from '../../shared/lifecycle/purge.ts';

/**
 * Scheduler's own limits, used as the retry policy: a purge the function keeps failing is
 * retried for a day before it lands in the dead-letter queue, where an operator sees it.
 */
export const PURGE_RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 } as const;

/**
 * How far ahead a purge already due is put. Scheduler does not run a one-time `at()` that lies in
 * the past, and it fires with one-minute precision, so a time less than a minute ahead might be
 * past by the time it is evaluated; a minute later is the soonest that surely runs.
 */
export const PAST_DUE_DELAY_MS = 60_000;

export interface EventBridgePurgeSchedulerOptions {
  readonly client: SchedulerClient;
  readonly groupName: string;
  /** The purge function. */
  readonly targetArn: string;
  /** The role Scheduler assumes to invoke it. */
  readonly roleArn: string;
  /** The queue for invocations that keep failing. */
  readonly deadLetterArn: string;
  readonly now?: () => number;
}

/**
 * One one-time schedule per account in the group, named by `purgeScheduleName`, deleted by
 * Scheduler once it ran. Its input is the AccountPurge itself: identifiers only, no key.
 */
export class EventBridgePurgeScheduler implements PurgeScheduler {
  readonly #options: EventBridgePurgeSchedulerOptions;
  readonly #now: () => number;

  constructor(options: EventBridgePurgeSchedulerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async schedule(purge: AccountPurge): Promise<void> {
    const input = this.#scheduleInput(accountPurgeSchema.parse(purge));
    // Create, or update the one an earlier bootstrap made (a re-bootstrap replaces it). Scheduler
    // may delete a schedule that just ran between the two calls: then create again.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#options.client.send(new CreateScheduleCommand(input));
        return;
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
      }
      try {
        await this.#options.client.send(new UpdateScheduleCommand(input));
        return;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException) || attempt >= 2) throw error;
      }
    }
  }

  async cancel(endpoint: string, securityInstanceId: number): Promise<boolean> {
    try {
      await this.#options.client.send(new DeleteScheduleCommand({ Name: purgeScheduleName(endpoint, securityInstanceId), GroupName: this.#options.groupName }));
      return true;
    } catch (error) {
      // Never scheduled, cancelled before, or already run (and deleted after completion).
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  }

  #scheduleInput(purge: AccountPurge): CreateScheduleCommandInput {
    return {
      Name: purgeScheduleNameOf(purge),
      GroupName: this.#options.groupName,
      ScheduleExpression: atExpression(Date.parse(purge.dueAt), this.#now()),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: this.#options.targetArn,
        RoleArn: this.#options.roleArn,
        Input: JSON.stringify(purge),
        RetryPolicy: { ...PURGE_RETRY_POLICY },
        DeadLetterConfig: { Arn: this.#options.deadLetterArn },
      },
    };
  }
}

/**
 * `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the second so it is never before the due
 * time; a time not at least a minute ahead becomes `now` + a minute (see PAST_DUE_DELAY_MS).
 */
export function atExpression(dueAtMs: number, nowMs: number): string {
  const at = Math.max(dueAtMs, nowMs + PAST_DUE_DELAY_MS);
  return `at(${new Date(Math.ceil(at / 1000) * 1000).toISOString().slice(0, 19)})`;
}
