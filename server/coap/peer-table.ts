import type { Block1Receiver, Block1Transfer } from './block1-receiver.ts';
import type { Block2Cache, CachedRepresentation } from './block2-server.ts';
import { DedupCache } from './dedup.ts';
import { LruMap } from './lru-map.ts';

/** What the endpoint remembers about one client (address + port). */
export class PeerState {
  readonly dedup: DedupCache;
  readonly block1 = new Map<string, Block1Transfer>();
  readonly block2 = new Map<string, CachedRepresentation>();
  /** Requests of this peer whose handler is running. */
  handling = 0;

  constructor(maxDedupEntries: number) {
    this.dedup = new DedupCache(maxDedupEntries);
  }

  get idle(): boolean {
    return this.dedup.size === 0 && this.block1.size === 0 && this.block2.size === 0 && this.handling === 0;
  }
}

export interface PeerTableLimits {
  readonly maxPeers: number;
  readonly maxDedupPerPeer: number;
  readonly maxDedupTotal: number;
}

/**
 * Per-peer state in an LRU of at most `maxPeers` peers, plus a bound on deduplication entries
 * over all peers: a flood of distinct Message IDs from many spoofed sources costs bounded
 * memory, and the peers heard from least recently lose their history first.
 */
export class PeerTable {
  readonly #peers: LruMap<string, PeerState>;
  readonly #limits: PeerTableLimits;
  readonly #block1: Block1Receiver;
  readonly #block2: Block2Cache;
  #dedupTotal = 0;

  constructor(limits: PeerTableLimits, block1: Block1Receiver, block2: Block2Cache, onEvict: () => void) {
    this.#limits = limits;
    this.#block1 = block1;
    this.#block2 = block2;
    this.#peers = new LruMap(limits.maxPeers, (_key, state) => {
      this.#release(state);
      onEvict();
    });
  }

  get size(): number {
    return this.#peers.size;
  }

  get dedupEntries(): number {
    return this.#dedupTotal;
  }

  /** The peer's state, created if new, and marked most recently used. */
  get(key: string): PeerState {
    let state = this.#peers.get(key);
    if (state === undefined) {
      state = new PeerState(this.#limits.maxDedupPerPeer);
      this.#peers.set(key, state);
    }
    return state;
  }

  /** Without marking it as used or creating it. */
  peek(key: string): PeerState | undefined {
    return this.#peers.peek(key);
  }

  /** Records a message id for deduplication, keeping the global bound. */
  remember(state: PeerState, messageId: number, expiresAt: number): void {
    const before = state.dedup.size;
    state.dedup.begin(messageId, expiresAt);
    this.#dedupTotal += state.dedup.size - before;
    if (this.#dedupTotal <= this.#limits.maxDedupTotal) return;
    for (const [, peer] of this.#peers.entries()) {
      if (peer.dedup.dropOldest()) {
        this.#dedupTotal -= 1;
        break;
      }
    }
  }

  /** Drops what has expired, and peers left with nothing. */
  sweep(now: number): void {
    for (const [key, state] of this.#peers.entries()) {
      const before = state.dedup.size;
      state.dedup.expire(now);
      this.#dedupTotal -= before - state.dedup.size;
      this.#block1.expire(state.block1, now);
      this.#block2.expire(state.block2, now);
      if (state.idle) this.#peers.delete(key);
    }
  }

  clear(): void {
    for (const [, state] of this.#peers.entries()) this.#release(state);
    this.#peers.clear();
  }

  #release(state: PeerState): void {
    this.#dedupTotal -= state.dedup.size;
    this.#block2.release(state.block2);
    this.#block1.release(state.block1);
  }
}
