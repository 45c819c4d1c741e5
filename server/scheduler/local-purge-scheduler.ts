import { accountPurgeSchema, purgeScheduleName, purgeScheduleNameOf, type AccountPurge, type PurgeHandler, type PurgeScheduler } from '../../shared/lifecycle/purge.ts';
import type { ScheduleStore } from './schedule-store.ts';

/** setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** 1 s doubling to 5 min, then every 5 min: a purge is never given up, an operator sees the log. */
const RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 300_000];

export interface LocalPurgeSchedulerOptions {
  readonly store: ScheduleStore;
  readonly handler: PurgeHandler;
  readonly now?: () => number;
  readonly log?: (message: string) => void;
  /** Waits after successive failures of one purge; the last repeats. */
  readonly retryDelaysMs?: readonly number[];
  /** The longest single timer; setTimeout's limit, lowered by tests to see it re-armed. */
  readonly maxTimerDelayMs?: number;
}

interface Entry {
  readonly purge: AccountPurge;
  readonly dueAtMs: number;
  /** Failures so far and the earliest next attempt, after a failing run. */
  failures: number;
  retryAtMs: number;
}

/**
 * The local server's PurgeScheduler: schedules persist in the table (ScheduleStore) and one
 * timer waits for the earliest. A purge leaves the table only after its handler resolved, so a
 * crash or stop mid-purge means it runs again at the next start, and purges that fell due while
 * the server was down run right after it starts. Delivery is therefore at least once and the
 * handler must be idempotent.
 */
export class LocalPurgeScheduler implements PurgeScheduler {
  readonly #store: ScheduleStore;
  readonly #handler: PurgeHandler;
  readonly #now: () => number;
  readonly #log: (message: string) => void;
  readonly #retryDelaysMs: readonly number[];
  readonly #maxTimerDelayMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Names whose handler is running; the timer skips them until it settles. */
  readonly #running = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: LocalPurgeSchedulerOptions) {
    this.#store = options.store;
    this.#handler = options.handler;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => undefined);
    this.#retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.#maxTimerDelayMs = Math.min(options.maxTimerDelayMs ?? MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS);
  }

  /** Loads the pending purges from the store and arms the timer; overdue ones run at once. */
  static async start(options: LocalPurgeSchedulerOptions): Promise<LocalPurgeScheduler> {
    const scheduler = new LocalPurgeScheduler(options);
    for (const { name, purge } of await options.store.list()) scheduler.#entries.set(name, entryOf(purge));
    scheduler.#arm();
    return scheduler;
  }

  async schedule(purge: AccountPurge): Promise<void> {
    this.#checkOpen();
    const checked = accountPurgeSchema.parse(purge);
    // Persisted first: a schedule the caller was told about must survive a restart.
    await this.#store.put(checked);
    this.#entries.set(purgeScheduleNameOf(checked), entryOf(checked));
    this.#arm();
  }

  async cancel(endpoint: string, securityInstanceId: number): Promise<boolean> {
    this.#checkOpen();
    const name = purgeScheduleName(endpoint, securityInstanceId);
    const known = this.#entries.delete(name);
    // A run already started cannot be called back; its conditional delete then finds nothing.
    const removed = await this.#store.delete(name);
    this.#arm();
    return known || removed;
  }

  /** The pending purges, earliest first (for operators and tests). */
  pending(): AccountPurge[] {
    return [...this.#entries.values()].sort((a, b) => a.dueAtMs - b.dueAtMs).map((entry) => entry.purge);
  }

  /**
   * Stops the timer. Runs in progress are not awaited (a handler may hang) and their results are
   * dropped: their items stay in the table, so they run again at the next start.
   */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the purge scheduler is closed');
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    let next = Infinity;
    for (const [name, entry] of this.#entries) {
      if (!this.#running.has(name)) next = Math.min(next, attemptAt(entry));
    }
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - this.#now()), this.#maxTimerDelayMs);
    // A timer that wakes early (the cap) finds nothing due and arms again.
    this.#timer = setTimeout(() => this.#fireDue(), delay);
    // The server keeps the process alive; pending purges alone should not.
    this.#timer.unref();
  }

  #fireDue(): void {
    this.#timer = undefined;
    const now = this.#now();
    for (const [name, entry] of this.#entries) {
      if (!this.#running.has(name) && attemptAt(entry) <= now) void this.#run(name, entry);
    }
    this.#arm();
  }

  async #run(name: string, entry: Entry): Promise<void> {
    this.#running.add(name);
    try {
      const outcome = await this.#handler(entry.purge);
      if (this.#closed) return;
      // Only after the handler: a crash before this line runs the purge again at the next start.
      await this.#store.delete(name, entry.purge);
      if (this.#entries.get(name) === entry) this.#entries.delete(name);
      this.#log(`purge ${name} of ${entry.purge.endpoint} (${entry.purge.reason}): ${outcome}`);
    } catch (error) {
      if (this.#closed) return;
      const wait = this.#retryDelaysMs[Math.min(entry.failures, this.#retryDelaysMs.length - 1)] ?? 0;
      entry.failures += 1;
      entry.retryAtMs = this.#now() + wait;
      this.#log(`purge ${name} of ${entry.purge.endpoint} failed (attempt ${entry.failures}), retrying in ${wait} ms: ${describe(error)}`);
    } finally {
      this.#running.delete(name);
      this.#arm();
    }
  }
}

function entryOf(purge: AccountPurge): Entry {
  return { purge, dueAtMs: Date.parse(purge.dueAt), failures: 0, retryAtMs: 0 };
}

function attemptAt(entry: Entry): number {
  return Math.max(entry.dueAtMs, entry.retryAtMs);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'a non-Error value was thrown';
}
