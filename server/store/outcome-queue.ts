import type { DeviceStatus } from '../../shared/bootstrap/device.ts';

/** Orders outcomes of one endpoint by session start, as the store's conditional write does. */
export function isNewerOrSame(candidate: DeviceStatus, than: DeviceStatus): boolean {
  return Date.parse(candidate.startedAt) >= Date.parse(than.startedAt);
}

export interface OutcomeQueueOptions {
  /** Writes one outcome; a rejection is retried. */
  readonly write: (endpoint: string, status: DeviceStatus) => Promise<unknown>;
  /** Writes in flight at once, over all endpoints. */
  readonly concurrency: number;
  /** Waits between attempts; past the last one the outcome is given up and logged. */
  readonly retryDelaysMs: readonly number[];
  readonly log: (message: string) => void;
}

/**
 * Write-behind for bootstrap outcomes. Per endpoint one write is in flight and at most one
 * waits; a newer outcome replaces the waiting one, which the store would refuse anyway (it keeps
 * the latest by `startedAt`). Endpoints take turns in arrival order, `concurrency` at a time.
 */
export class OutcomeQueue {
  readonly #options: OutcomeQueueOptions;
  readonly #waiting = new Map<string, DeviceStatus>();
  readonly #writing = new Set<string>();
  #turns: string[] = [];
  #head = 0;
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(options: OutcomeQueueOptions) {
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
    if (waiting === undefined && !this.#writing.has(endpoint)) this.#turns.push(endpoint);
    this.#pump();
  }

  /** Resolves once every outcome added so far is written or given up. */
  flushed(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency && this.#head < this.#turns.length) {
      const endpoint = this.#turns[this.#head++]!;
      const status = this.#waiting.get(endpoint);
      if (status === undefined) continue;
      this.#waiting.delete(endpoint);
      this.#writing.add(endpoint);
      this.#running += 1;
      void this.#writeWithRetries(endpoint, status).finally(() => {
        this.#running -= 1;
        this.#writing.delete(endpoint);
        if (this.#waiting.has(endpoint)) this.#turns.push(endpoint);
        this.#pump();
        this.#settle();
      });
    }
    // The turn list only grows at its tail; drop what has been taken once it is most of it.
    if (this.#head > 1024 && this.#head * 2 > this.#turns.length) {
      this.#turns = this.#turns.slice(this.#head);
      this.#head = 0;
    }
  }

  async #writeWithRetries(endpoint: string, status: DeviceStatus): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#options.write(endpoint, status);
        return;
      } catch (error) {
        // Error names and messages from the SDK never carry the written values (keys).
        const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const delay = this.#options.retryDelaysMs[attempt];
        if (delay === undefined) {
          this.#options.log(`outcome of ${endpoint} (session ${status.sessionId}) NOT recorded after ${attempt + 1} attempts: ${why}`);
          return;
        }
        this.#options.log(`recording the outcome of ${endpoint} failed (${why}); retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #settle(): void {
    if (this.size > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
