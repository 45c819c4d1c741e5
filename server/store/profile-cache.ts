import type { Profile } from '../../shared/bootstrap/profile.ts';

/** At most this many profiles are held; a fleet has few, so overflow just starts over. */
const MAX_ENTRIES = 1000;

/**
 * A short-lived in-process cache of profiles for the bootstrap hot path. A profile changed by
 * another process is seen after at most `ttlMs`; a TTL of 0 disables the cache.
 */
export class ProfileCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { readonly profile: Profile; readonly expiresAt: number }>();

  constructor(ttlMs: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get(name: string): Profile | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    if (entry.expiresAt > this.#now()) return entry.profile;
    this.#entries.delete(name);
    return undefined;
  }

  set(profile: Profile): void {
    if (this.#ttlMs <= 0) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(profile.name, { profile, expiresAt: this.#now() + this.#ttlMs });
  }

  forget(name: string): void {
    this.#entries.delete(name);
  }
}
