/**
 * The handshake_messages hashed into Finished (RFC 5246 section 7.4.9 with RFC 6347 section 4.2.6):
 * every handshake message from the ClientHello that carried a valid cookie onward, each in its
 * unfragmented form with the DTLS header (message_seq included, fragment_offset 0,
 * fragment_length = length). The first ClientHello and the HelloVerifyRequest stay out, which is
 * what lets the cookie exchange be stateless.
 */
import { createHash } from 'node:crypto';
import { serializeHandshake, type HandshakeType } from './handshake.ts';

/** Immutable: each append returns a new transcript, so a state machine state can hold it. */
export class HandshakeTranscript {
  readonly #messages: readonly Uint8Array[];

  constructor(messages: readonly Uint8Array[] = []) {
    this.#messages = messages;
  }

  with(msgType: HandshakeType, messageSeq: number, body: Uint8Array): HandshakeTranscript {
    return new HandshakeTranscript([...this.#messages, serializeHandshake(msgType, messageSeq, body)]);
  }

  /** SHA-256, the hash of the PRF of every suite this server offers. */
  hash(): Uint8Array {
    const hash = createHash('sha256');
    for (const message of this.#messages) hash.update(message);
    return new Uint8Array(hash.digest());
  }
}
