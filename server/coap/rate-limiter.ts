import { LruMap } from './lru-map.ts';
import type { RateLimit } from './types.ts';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per source address (not per port: a flood from one host cycling source
 * ports is still one host). Buckets live in an LRU, so a spoofed-address flood costs bounded
 * memory; a forgotten address starts again with a full bucket, which errs on serving.
 */
export class RateLimiter {
  readonly #buckets: LruMap<string, Bucket>;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;

  constructor(limit: RateLimit, maxSources: number, now: () => number = () => performance.now()) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError('rateLimit needs perSecond > 0 and burst >= 1');
    }
    this.#buckets = new LruMap(maxSources);
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
    this.#now = now;
  }

  /** Takes one token for `address`; false means drop the datagram. */
  allow(address: string): boolean {
    const now = this.#now();
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      this.#buckets.set(address, { tokens: this.#burst - 1, updatedAt: now });
      return true;
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedAt) * this.#perMs);
    bucket.updatedAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  clear(): void {
    this.#buckets.clear();
  }
}
