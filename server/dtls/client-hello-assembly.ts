/**
 * ClientHellos from clients that have no handshake state yet, reassembled when they arrive in
 * fragments (RFC 6347 section 4.2.3).
 *
 * Why a table and not "stateless or nothing": a hello split over several datagrams cannot be
 * reassembled without remembering the earlier pieces, and ignoring fragmented hellos would lock
 * out clients whose path MTU or record size limit forces them to fragment. So fragments wait
 * here, before any cookie check, under strict bounds: at most `capacity` sources (the least
 * recently active is evicted), one message per source, and HandshakeReassembly's length limit.
 * This is all a spoofed source can make the server hold; it cannot reach the peer table, it gets
 * no answer until a whole hello is in, and an unfragmented hello never touches this table.
 * The reassembled hello then goes through the usual stateless cookie check: without a valid cookie
 * it is answered with a HelloVerifyRequest and forgotten, with one the handshake starts.
 */
import { HandshakeType, parseHandshakeFragments, serializeHandshake } from './handshake.ts';
import { HandshakeReassembly } from './handshake-reassembly.ts';
import { ContentType, type DtlsRecord } from './record.ts';

export const DEFAULT_HELLO_ASSEMBLY_CAPACITY = 64;

interface Entry {
  readonly messageSeq: number;
  readonly reassembly: HandshakeReassembly;
}

export class ClientHelloAssembly {
  readonly #capacity: number;
  /** Insertion order is recency. */
  readonly #entries = new Map<string, Entry>();

  constructor(capacity = DEFAULT_HELLO_ASSEMBLY_CAPACITY) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * A record carrying one whole ClientHello, once `record` completes one from this source; the
   * record itself when it already was one; otherwise undefined. Throws CodecError on bad framing.
   */
  accept(source: string, record: DtlsRecord): DtlsRecord | undefined {
    if (record.type !== ContentType.handshake || record.epoch !== 0) return undefined;
    const fragments = parseHandshakeFragments(record.fragment);
    const [only] = fragments;
    if (fragments.length === 1 && only !== undefined && only.fragmentOffset === 0 && only.body.length === only.length) return record;
    for (const fragment of fragments) {
      if (fragment.msgType !== HandshakeType.clientHello) continue;
      const entry = this.#entries.get(source);
      // A hello with another message_seq is a new attempt: the old pieces are of no use.
      const reassembly = entry?.messageSeq === fragment.messageSeq ? entry.reassembly : new HandshakeReassembly();
      const step = reassembly.add(fragment);
      this.#entries.delete(source);
      if (step.message !== undefined) {
        return { ...record, fragment: serializeHandshake(HandshakeType.clientHello, step.message.messageSeq, step.message.body) };
      }
      this.#entries.set(source, { messageSeq: fragment.messageSeq, reassembly: step.reassembly });
      while (this.#entries.size > this.#capacity) {
        const oldest = this.#entries.keys().next();
        if (oldest.done === true) break;
        this.#entries.delete(oldest.value);
      }
    }
    return undefined;
  }

  forget(source: string): void {
    this.#entries.delete(source);
  }

  clear(): void {
    this.#entries.clear();
  }
}
