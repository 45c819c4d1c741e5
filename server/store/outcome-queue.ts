import type { DeviceStatus } from '../../shared/bootstrap/device.ts';
import { isNewerOrSame } from './item-codec.ts';

/** One endpoint's outcome, as the queue hands it to `write`. */
export interface QueuedOutcome {
  readonly endpoint: string;
  readonly status: DeviceStatus;
}

export interface OutcomeQueueOptions {
  /** Writes a batch of outcomes, at most one per endpoint, unconditionally; a rejection is retried. */
  readonly write: (batch: readonly QueuedOutcome[]) => Promise<unknown>;
  /** Outcomes per batch (at most 25 for a BatchWriteItem). */
  readonly batchSize: number;
  /** Batches in flight at once. */
  readonly concurrency: number;
  /** Waits between attempts; past the last one the batch is given up and each outcome logged. */
  readonly retryDelaysMs: readonly number[];
  /**
   * Errors that no retry cures (an item the table refuses, a validation error): a batch of
   * several is split and each outcome written alone, so one bad outcome does not sink the rest;
   * a batch of one is given up at once. Default: none.
   */
  readonly isPermanent?: (error: unknown) => boolean;
  readonly log: (message: string) => void;
}

/**
 * Write-behind for bootstrap outcomes, in batches. The caller has decided the order (the
 * newest `startedAt` wins), so writes are unconditional and two writes of one endpoint must
 * never race: per endpoint one outcome is in flight and at most one waits, a newer outcome
 * replacing the waiting one. A batch takes waiting endpoints in arrival order, skipping those
 * in flight; batches fill by themselves while `concurrency` of them are out, so a quiet server
 * writes each outcome at once and a busy one writes full batches.
 */
export class OutcomeQueue {
  readonly #options: OutcomeQueueOptions;
  /** In arrival order: a replaced outcome keeps its endpoint's place. */
  readonly #waiting = new Map<string, DeviceStatus>();
  readonly #writing = new Set<string>();
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(options: OutcomeQueueOptions) {
    if (!(options.batchSize >= 1) || !(options.concurrency >= 1)) throw new RangeError('batchSize and concurrency must be at least 1');
    this.#options = options;
  }

  /** Outcomes not yet in the store (waiting or being written). */
  get size(): number {
    return this.#waiting.size + this.#writing.size;
  }

  add(endpoint: string, status: DeviceStatus): void {
    const waiting = this.#waiting.get(endpoint);
    if (waiting !== undefined && !isNewerOrSame(status, waiting)) return;
    this.#waiting.set(endpoint, status);
    this.#pump();
  }

  /**
   * Drops the endpoint's waiting outcome (its device was deleted); one in flight still lands.
   */
  forget(endpoint: string): void {
    if (this.#waiting.delete(endpoint)) this.#settle();
  }

  /** Resolves once every outcome added so far is written or given up. */
  flushed(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency) {
      const batch = this.#takeBatch();
      if (batch.length === 0) return;
      this.#running += 1;
      void this.#writeWithRetries(batch).finally(() => {
        this.#running -= 1;
        for (const { endpoint } of batch) this.#writing.delete(endpoint);
        this.#pump();
        this.#settle();
      });
    }
  }

  #takeBatch(): QueuedOutcome[] {
    const batch: QueuedOutcome[] = [];
    // At most concurrency × batchSize endpoints are in flight, so the skipping is bounded.
    for (const [endpoint, status] of this.#waiting) {
      if (batch.length >= this.#options.batchSize) break;
      if (this.#writing.has(endpoint)) continue;
      batch.push({ endpoint, status });
    }
    for (const { endpoint } of batch) {
      this.#waiting.delete(endpoint);
      this.#writing.add(endpoint);
    }
    return batch;
  }

  async #writeWithRetries(batch: readonly QueuedOutcome[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#options.write(batch);
        return;
      } catch (error) {
        // Error names and messages from the SDK never carry the written values (keys).
        const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        if (this.#options.isPermanent?.(error) === true) {
          if (batch.length > 1) {
            this.#options.log(`recording ${describe(batch)} failed (${why}); writing each alone`);
            for (const outcome of batch) await this.#writeWithRetries([outcome]);
          } else {
            this.#giveUp(batch, attempt, why);
          }
          return;
        }
        const delay = this.#options.retryDelaysMs[attempt];
        if (delay === undefined) {
          this.#giveUp(batch, attempt, why);
          return;
        }
        this.#options.log(`recording ${describe(batch)} failed (${why}); retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #giveUp(batch: readonly QueuedOutcome[], attempt: number, why: string): void {
    for (const { endpoint, status } of batch) {
      this.#options.log(`outcome of ${endpoint} (session ${status.sessionId}) NOT recorded after ${attempt + 1} attempts: ${why}`);
    }
  }

  #settle(): void {
    if (this.size > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}

/** Names the endpoints of a batch for the log, a few of them for a large one. */
function describe(batch: readonly QueuedOutcome[]): string {
  const names = batch.slice(0, 5).map((outcome) => outcome.endpoint);
  const more = batch.length > names.length ? ` and ${batch.length - names.length} more` : '';
  return `the outcome${batch.length > 1 ? 's' : ''} of ${names.join(', ')}${more}`;
}
