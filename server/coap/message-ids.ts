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

const TOKEN_LENGTH = 8;
const TOKENS_PER_DRAW = 512;
let pool = new Uint8Array(0);
let poolOffset = 0;

/**
 * 8 random bytes: unguessable by an off-path attacker (RFC 7252 5.3.1). Drawn from the CSPRNG
 * in batches: one call per request was a measurable share of a bootstrap's CPU.
 */
export function newToken(): Uint8Array {
  if (poolOffset + TOKEN_LENGTH > pool.length) {
    pool = new Uint8Array(randomBytes(TOKEN_LENGTH * TOKENS_PER_DRAW));
    poolOffset = 0;
  }
  // A copy, so the token never aliases bytes a later token is cut from.
  const token = pool.slice(poolOffset, poolOffset + TOKEN_LENGTH);
  poolOffset += TOKEN_LENGTH;
  return token;
}

export function tokenKey(token: Uint8Array): string {
  return Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex');
}
