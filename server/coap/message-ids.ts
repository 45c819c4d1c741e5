import { randomBytes, randomInt } from 'node:crypto';
import { MAX_MESSAGE_ID } from '../../shared/coap/header.ts';

/**
 * Message IDs for everything we originate: one counter per endpoint, starting at a random
 * value (RFC 7252 4.4) so a restarted server does not replay the IDs a client still remembers.
 */
export class MessageIds {
  #next = randomInt(MAX_MESSAGE_ID + 1);

  next(): number {
    const id = this.#next;
    this.#next = (this.#next + 1) & MAX_MESSAGE_ID;
    return id;
  }
}

/** 8 random bytes: unguessable by an off-path attacker (RFC 7252 5.3.1). */
export function newToken(): Uint8Array {
  return new Uint8Array(randomBytes(8));
}

export function tokenKey(token: Uint8Array): string {
  return Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex');
}
