/**
 * The DtlsServer's state per peer (address:port), bounded: at most `maxPeers` entries, the least
 * recently active evicted first, so a flood of valid-cookie handshakes cannot grow memory without
 * limit. Each handshaking peer has two timers, the handshake timeout and the retransmission timer;
 * forgetting a peer stops them, so nothing fires for a peer that is gone, and callbacks that
 * outlive a peer (a PSK lookup, a timer) check `holds` before they touch it.
 */
import type { ClientAddress } from './cookie.ts';
import type { EstablishedSession } from './established-session.ts';
import type { ServerHandshakeState } from './server-handshake.ts';

export interface PeerEntry {
  readonly client: ClientAddress;
  state: ServerHandshakeState;
  session: EstablishedSession | undefined;
  identity: string;
  /** The handshake timeout. */
  timer: NodeJS.Timeout | undefined;
  retransmitTimer: NodeJS.Timeout | undefined;
}

export function peerKey(client: ClientAddress): string {
  return `${client.address}|${client.port}`;
}

/** RFC 6347 section 4.2.4.1: the timer doubles up to at least 60 seconds. */
const RETRANSMIT_CAP_MS = 60_000;

/** Calls `onTimeout` once the handshake has taken `timeoutMs`, unless the timers are stopped first. */
export function startHandshakeTimer(peer: PeerEntry, timeoutMs: number, onTimeout: () => void): void {
  peer.timer = setTimeout(onTimeout, timeoutMs);
  peer.timer.unref();
}

/** Calls `resend` after `delayMs`, then again after twice as long, for as long as it returns true. */
export function startRetransmitTimer(peer: PeerEntry, delayMs: number, resend: () => boolean): void {
  peer.retransmitTimer = setTimeout(() => {
    peer.retransmitTimer = undefined;
    if (resend()) startRetransmitTimer(peer, Math.min(delayMs * 2, RETRANSMIT_CAP_MS), resend);
  }, delayMs);
  peer.retransmitTimer.unref();
}

export function stopTimers(peer: PeerEntry): void {
  clearTimeout(peer.timer);
  clearTimeout(peer.retransmitTimer);
  peer.timer = undefined;
  peer.retransmitTimer = undefined;
}

export class PeerTable {
  readonly #maxPeers: number;
  /** Insertion order is recency: a peer is re-inserted when it is active, the first is the oldest. */
  readonly #peers = new Map<string, PeerEntry>();

  constructor(maxPeers: number) {
    this.#maxPeers = maxPeers;
  }

  get size(): number {
    return this.#peers.size;
  }

  get(key: string): PeerEntry | undefined {
    return this.#peers.get(key);
  }

  /** Whether `peer` is still the entry for `key`: not timed out, evicted or replaced by a new handshake. */
  holds(key: string, peer: PeerEntry): boolean {
    return this.#peers.get(key) === peer;
  }

  /** Marks the peer most recently active (adding it if new), then evicts the oldest beyond the bound. */
  touch(key: string, peer: PeerEntry): void {
    this.#peers.delete(key);
    this.#peers.set(key, peer);
    while (this.#peers.size > this.#maxPeers) {
      const oldest = this.#peers.keys().next();
      if (oldest.done === true) break;
      this.forget(oldest.value);
    }
  }

  forget(key: string): void {
    const peer = this.#peers.get(key);
    if (peer === undefined) return;
    stopTimers(peer);
    this.#peers.delete(key);
  }

  clear(): void {
    for (const peer of this.#peers.values()) stopTimers(peer);
    this.#peers.clear();
  }
}
