import { bootstrapPskOf, type BootstrapPsk } from '../../shared/bootstrap/bootstrap-psk.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';

/** Where a gateway finds the key for a PSK identity: the store, locally or on AWS. */
export interface PskSource {
  lookup(identity: string): Promise<BootstrapPsk | undefined>;
}

export interface PskCacheOptions {
  readonly maxEntries?: number;
  /** How long a found key is trusted without asking the store again. */
  readonly ttlMs?: number;
  /**
   * How long "unknown" is remembered: short, so a device imported a moment ago can bootstrap,
   * but long enough that a client retrying a bad identity does not reach the store each time.
   */
  readonly negativeTtlMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly psk: BootstrapPsk | undefined;
  readonly expiresAt: number;
}

/**
 * A bounded, expiring cache in front of a PskSource: handshakes of one device (retries,
 * re-bootstraps) cost one store lookup. Keys leave it when they expire, when the least recently
 * used entry makes room, and at once when `invalidate` is called: a purged or replaced key must
 * stop authenticating without waiting for the TTL.
 */
export class PskCache implements PskSource {
  readonly #source: PskSource;
  readonly #entries = new Map<string, Entry>();
  /** Lookups in flight, so a burst of handshakes for one identity asks the store once. */
  readonly #pending = new Map<string, Promise<BootstrapPsk | undefined>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;
  #generation = 0;

  constructor(source: PskSource, options: PskCacheOptions = {}) {
    this.#source = source;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async lookup(identity: string): Promise<BootstrapPsk | undefined> {
    const entry = this.#entries.get(identity);
    if (entry !== undefined && entry.expiresAt > this.#now()) {
      this.#entries.delete(identity);
      this.#entries.set(identity, entry);
      return entry.psk;
    }
    this.#entries.delete(identity);
    const pending = this.#pending.get(identity);
    if (pending !== undefined) return pending;
    const generation = this.#generation;
    const lookup = this.#source.lookup(identity).finally(() => this.#pending.delete(identity));
    this.#pending.set(identity, lookup);
    const psk = await lookup;
    // An invalidation while the store answered may concern this very key: do not keep it.
    if (generation === this.#generation) this.#remember(identity, psk);
    return psk;
  }

  invalidate(identity: string): void {
    this.#generation += 1;
    this.#entries.delete(identity);
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  #remember(identity: string, psk: BootstrapPsk | undefined): void {
    this.#entries.set(identity, { psk, expiresAt: this.#now() + (psk === undefined ? this.#negativeTtlMs : this.#ttlMs) });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}

/** Keys from a store that can find a device by its PSK identity. */
export function storePskSource(store: Pick<BootstrapStore, 'findDevice'>): PskSource {
  return {
    async lookup(identity) {
      // A credential being replaced authenticates until its purge, under its own index.
      const device = (await store.findDevice('pskIdentity', identity)) ?? (await store.findDevice('retiringPskIdentity', identity));
      return device === undefined ? undefined : bootstrapPskOf(device, identity);
    },
  };
}
