/**
 * Reassembly of fragmented handshake messages (RFC 6347 section 4.2.3): fragments of one message
 * share msg_type, length and message_seq, and may arrive out of order, overlapping, duplicated
 * or spread over several records. A message is handed on only once every byte of it arrived.
 *
 * Bounded, because fragments come from peers that have not authenticated: a message longer than
 * MAX_HANDSHAKE_MESSAGE_LENGTH is never buffered, at most MAX_PARTIAL_MESSAGES messages are in
 * progress, and a fragment whose type or total length disagrees with the first fragment of its
 * message is dropped (the first one seen wins; RFC 6347 gives no better rule, and a peer that
 * sends inconsistent fragments cannot complete the Finished check anyway).
 *
 * Immutable, so a state of the pure handshake machine can hold it: `add` returns a new value.
 */
import type { HandshakeFragment } from './handshake.ts';

/** Far above any message a PSK handshake carries (a ClientHello is a few hundred bytes). */
export const MAX_HANDSHAKE_MESSAGE_LENGTH = 4096;
export const MAX_PARTIAL_MESSAGES = 4;

export interface HandshakeMessage {
  readonly msgType: number;
  readonly messageSeq: number;
  readonly body: Uint8Array;
}

interface PartialMessage {
  readonly msgType: number;
  readonly length: number;
  readonly body: Uint8Array;
  /** Received byte ranges [start, end), sorted and merged. */
  readonly ranges: readonly (readonly [number, number])[];
}

export interface ReassemblyStep {
  readonly reassembly: HandshakeReassembly;
  /** The message this fragment completed, if it did. */
  readonly message: HandshakeMessage | undefined;
  /** True when the fragment was refused (too long, inconsistent, too many messages in progress). */
  readonly dropped: boolean;
}

function merge(ranges: readonly (readonly [number, number])[], start: number, end: number): (readonly [number, number])[] {
  const all = [...ranges, [start, end] as const].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [from, to] of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

export class HandshakeReassembly {
  readonly #partial: ReadonlyMap<number, PartialMessage>;
  readonly #maxLength: number;

  constructor(maxLength = MAX_HANDSHAKE_MESSAGE_LENGTH, partial: ReadonlyMap<number, PartialMessage> = new Map()) {
    this.#maxLength = maxLength;
    this.#partial = partial;
  }

  /** message_seq values with fragments buffered. */
  get pending(): readonly number[] {
    return [...this.#partial.keys()];
  }

  add(fragment: HandshakeFragment): ReassemblyStep {
    const dropped = { reassembly: this, message: undefined, dropped: true };
    const end = fragment.fragmentOffset + fragment.body.length;
    if (fragment.length > this.#maxLength || end > fragment.length) return dropped;
    const existing = this.#partial.get(fragment.messageSeq);
    if (existing === undefined && fragment.fragmentOffset === 0 && fragment.body.length === fragment.length) {
      // The common case: a whole message, nothing buffered.
      return { reassembly: this, message: { msgType: fragment.msgType, messageSeq: fragment.messageSeq, body: fragment.body.slice() }, dropped: false };
    }
    if (existing !== undefined && (existing.msgType !== fragment.msgType || existing.length !== fragment.length)) return dropped;
    if (existing === undefined && this.#partial.size >= MAX_PARTIAL_MESSAGES) return dropped;

    const body = existing?.body.slice() ?? new Uint8Array(fragment.length);
    body.set(fragment.body, fragment.fragmentOffset);
    const ranges = fragment.body.length === 0 ? (existing?.ranges ?? []) : merge(existing?.ranges ?? [], fragment.fragmentOffset, end);
    const partial = new Map(this.#partial);
    const first = ranges[0];
    if (first !== undefined && ranges.length === 1 && first[0] === 0 && first[1] === fragment.length) {
      partial.delete(fragment.messageSeq);
      return {
        reassembly: new HandshakeReassembly(this.#maxLength, partial),
        message: { msgType: fragment.msgType, messageSeq: fragment.messageSeq, body },
        dropped: false,
      };
    }
    partial.set(fragment.messageSeq, { msgType: fragment.msgType, length: fragment.length, body, ranges });
    return { reassembly: new HandshakeReassembly(this.#maxLength, partial), message: undefined, dropped: false };
  }

  /** Forgets the fragments of messages before `messageSeq`, which the caller has finished with. */
  discardBefore(messageSeq: number): HandshakeReassembly {
    const partial = new Map([...this.#partial].filter(([seq]) => seq >= messageSeq));
    return partial.size === this.#partial.size ? this : new HandshakeReassembly(this.#maxLength, partial);
  }
}
