import { CoapCode } from '../../shared/coap/code.ts';
import type { BlockOption, BlockSize } from '../../shared/coap/block.ts';

/** One request body arriving in Block1 blocks (RFC 7959 2.5), keyed by method and URI. */
export interface Block1Transfer {
  readonly parts: Uint8Array[];
  received: number;
  expiresAt: number;
}

export type Block1Outcome =
  /** Answer 2.31 Continue carrying this Block1. */
  | { readonly kind: 'continue'; readonly block: BlockOption }
  /** The body is complete: handle the request; the final response echoes this Block1. */
  | { readonly kind: 'complete'; readonly payload: Uint8Array; readonly block: BlockOption }
  | { readonly kind: 'reject'; readonly code: number; readonly size1?: number; readonly reason: string };

export interface Block1ReceiverLimits {
  readonly maxBodySize: number;
  readonly preferredSize: BlockSize;
  readonly lifetimeMs: number;
  readonly maxTransfersPerPeer: number;
  /** Over all peers: bodies being reassembled; past it new blocks get 5.03. */
  readonly maxTotalBytes: number;
}

/**
 * Reassembles Block1 request bodies, bounded in size per body, in count per peer and in time.
 * Blocks must arrive in order (what every client we know does); a gap or restart mid-way is
 * 4.08 Request Entity Incomplete. The client may switch to the smaller size we ask for in a
 * 2.31, so the next block is checked by byte offset rather than by number.
 */
export class Block1Receiver {
  readonly #limits: Block1ReceiverLimits;
  #totalBytes = 0;

  get totalBytes(): number {
    return this.#totalBytes;
  }

  constructor(limits: Block1ReceiverLimits) {
    this.#limits = limits;
  }

  receive(
    transfers: Map<string, Block1Transfer>,
    key: string,
    block: BlockOption,
    payload: Uint8Array,
    announcedSize: number | undefined,
    now: number,
  ): Block1Outcome {
    const limits = this.#limits;
    const offset = block.num * block.size;
    let transfer = transfers.get(key);
    if (block.num === 0) {
      this.#delete(transfers, key);
      if (announcedSize !== undefined && announcedSize > limits.maxBodySize) {
        return tooLarge(limits.maxBodySize);
      }
      transfer = { parts: [], received: 0, expiresAt: now + limits.lifetimeMs };
      transfers.set(key, transfer);
      // Oldest first: the peer's abandoned transfers make room for its newest.
      for (const oldest of transfers.keys()) {
        if (transfers.size <= limits.maxTransfersPerPeer) break;
        this.#delete(transfers, oldest);
      }
    } else if (transfer === undefined || transfer.expiresAt <= now || transfer.received !== offset) {
      this.#delete(transfers, key);
      return { kind: 'reject', code: CoapCode.REQUEST_ENTITY_INCOMPLETE, reason: `Block1 #${block.num} does not continue a transfer` };
    }
    if (block.more ? payload.length !== block.size : payload.length > block.size) {
      this.#delete(transfers, key);
      return { kind: 'reject', code: CoapCode.BAD_REQUEST, reason: `Block1 #${block.num} carries ${payload.length} bytes, not ${block.size}` };
    }
    if (transfer.received + payload.length > limits.maxBodySize) {
      this.#delete(transfers, key);
      return tooLarge(limits.maxBodySize);
    }
    if (block.more && this.#totalBytes + payload.length > limits.maxTotalBytes) {
      this.#delete(transfers, key);
      return { kind: 'reject', code: CoapCode.SERVICE_UNAVAILABLE, reason: 'too many Block1 bodies being reassembled' };
    }
    transfer.parts.push(payload);
    transfer.received += payload.length;
    this.#totalBytes += payload.length;
    transfer.expiresAt = now + limits.lifetimeMs;
    if (block.more) {
      const size = Math.min(block.size, limits.preferredSize) as BlockSize;
      return { kind: 'continue', block: { num: block.num, more: true, size } };
    }
    this.#delete(transfers, key);
    return { kind: 'complete', payload: concat(transfer.parts, transfer.received), block: { num: block.num, more: false, size: block.size } };
  }

  expire(transfers: Map<string, Block1Transfer>, now: number): void {
    for (const [key, transfer] of transfers) {
      if (transfer.expiresAt <= now) this.#delete(transfers, key);
    }
  }

  /** A peer's state is being dropped. */
  release(transfers: Map<string, Block1Transfer>): void {
    for (const key of [...transfers.keys()]) this.#delete(transfers, key);
  }

  #delete(transfers: Map<string, Block1Transfer>, key: string): void {
    const transfer = transfers.get(key);
    if (transfer === undefined) return;
    transfers.delete(key);
    this.#totalBytes -= transfer.received;
  }
}

function tooLarge(maxBodySize: number): Block1Outcome {
  return { kind: 'reject', code: CoapCode.REQUEST_ENTITY_TOO_LARGE, size1: maxBodySize, reason: `request body over ${maxBodySize} bytes` };
}

export function concat(parts: readonly Uint8Array[], length = parts.reduce((sum, part) => sum + part.length, 0)): Uint8Array {
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}
