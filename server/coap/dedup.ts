/**
 * Message deduplication for one peer (RFC 7252 4.5): the Message IDs of the CON and NON
 * messages it sent us within EXCHANGE_LIFETIME, with what we answered, so a retransmitted CON
 * gets the same reply and the request handler runs once.
 */
export interface DedupEntry {
  readonly expiresAt: number;
  /** Undefined while the request is still being handled: a duplicate then is ignored. */
  reply: Uint8Array | undefined;
}

export class DedupCache {
  // Every entry lives EXCHANGE_LIFETIME, so insertion order is expiry order.
  readonly #entries = new Map<number, DedupEntry>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** An expired entry is left for expire() to remove, so the owner's accounting stays simple. */
  lookup(messageId: number, now: number): DedupEntry | undefined {
    const entry = this.#entries.get(messageId);
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  }

  /** Records a new message id, dropping the oldest ones past the bound. */
  begin(messageId: number, expiresAt: number): void {
    this.#entries.delete(messageId);
    this.#entries.set(messageId, { expiresAt, reply: undefined });
    while (this.#entries.size > this.#maxEntries) this.dropOldest();
  }

  /** The reply is kept only if the entry is still there (it may have been dropped for space). */
  complete(messageId: number, reply: Uint8Array): void {
    const entry = this.#entries.get(messageId);
    if (entry !== undefined) entry.reply = reply;
  }

  dropOldest(): boolean {
    const oldest = this.#entries.keys().next();
    if (oldest.done === true) return false;
    this.#entries.delete(oldest.value);
    return true;
  }

  expire(now: number): void {
    for (const [messageId, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(messageId);
    }
  }
}
