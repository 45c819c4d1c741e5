import type { BlockOption, BlockSize } from '../../shared/coap/block.ts';
import type { OutgoingResponse } from './types.ts';

/** A response body too large for one datagram, kept so later Block2 requests get its blocks. */
export interface CachedRepresentation {
  readonly response: OutgoingResponse;
  readonly bytes: number;
  expiresAt: number;
}

export interface ResponseBlock {
  readonly payload: Uint8Array;
  readonly block2: BlockOption;
  /** RFC 7959 4.: the total size, so the client knows what is coming. */
  readonly size2: number;
}

export interface Block2CacheLimits {
  readonly lifetimeMs: number;
  readonly maxPerPeer: number;
  /** Over all peers: past this a representation is not kept (later blocks re-run the handler). */
  readonly maxTotalBytes: number;
}

/**
 * Serves large responses in Block2 blocks (RFC 7959 2.4). The server is stateless in the
 * RFC's sense — any block can be computed again — but our handlers are not free to re-run
 * (a bspack request asks the backend again), so the whole representation is kept briefly per
 * peer and request URI.
 */
export class Block2Cache {
  readonly #limits: Block2CacheLimits;
  #totalBytes = 0;

  constructor(limits: Block2CacheLimits) {
    this.#limits = limits;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  store(cache: Map<string, CachedRepresentation>, key: string, response: OutgoingResponse, now: number): void {
    this.#remove(cache, key);
    const bytes = response.payload?.length ?? 0;
    if (this.#totalBytes + bytes > this.#limits.maxTotalBytes) return;
    cache.set(key, { response, bytes, expiresAt: now + this.#limits.lifetimeMs });
    this.#totalBytes += bytes;
    for (const oldest of cache.keys()) {
      if (cache.size <= this.#limits.maxPerPeer) break;
      this.#remove(cache, oldest);
    }
  }

  lookup(cache: Map<string, CachedRepresentation>, key: string, now: number): OutgoingResponse | undefined {
    const entry = cache.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#remove(cache, key);
      return undefined;
    }
    entry.expiresAt = now + this.#limits.lifetimeMs;
    return entry.response;
  }

  expire(cache: Map<string, CachedRepresentation>, now: number): void {
    for (const [key, entry] of cache) {
      if (entry.expiresAt <= now) this.#remove(cache, key);
    }
  }

  /** A peer's state is being dropped. */
  release(cache: Map<string, CachedRepresentation>): void {
    for (const key of [...cache.keys()]) this.#remove(cache, key);
  }

  #remove(cache: Map<string, CachedRepresentation>, key: string): void {
    const entry = cache.get(key);
    if (entry === undefined) return;
    cache.delete(key);
    this.#totalBytes -= entry.bytes;
  }
}

/** Block `num` of `payload` at `size`; undefined when it starts past the end (answer 4.02). */
export function responseBlock(payload: Uint8Array, num: number, size: BlockSize): ResponseBlock | undefined {
  const start = num * size;
  if (start >= payload.length && !(num === 0 && payload.length === 0)) return undefined;
  const end = Math.min(start + size, payload.length);
  return { payload: payload.subarray(start, end), block2: { num, more: end < payload.length, size }, size2: payload.length };
}
