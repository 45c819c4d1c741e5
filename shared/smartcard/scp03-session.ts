/**
 * What both ends compute from the static keys and the two challenges when a session opens
 * (Amendment D sections 6.2.1 to 6.2.3): the session keys, the card cryptogram the host checks,
 * the host cryptogram the card checks, and the card challenge a card that uses pseudo-random
 * challenges derives from its sequence counter. S8 mode: challenges and cryptograms of 8 bytes.
 */
import { timingSafeEqual } from 'node:crypto';
import { DERIVATION_CONSTANT, scp03Derive } from './kdf.ts';
import type { Scp03KeySet } from './scp03-keys.ts';
import { Scp03Error } from './scp03-error.ts';

export const CHALLENGE_LENGTH = 8;
export const CRYPTOGRAM_LENGTH = 8;
export const SEQUENCE_COUNTER_LENGTH = 3;

export interface SessionKeys {
  readonly sEnc: Uint8Array;
  readonly sMac: Uint8Array;
  readonly sRmac: Uint8Array;
}

/** host challenge || card challenge: the KDF context of every session derivation. */
export function sessionContext(hostChallenge: Uint8Array, cardChallenge: Uint8Array): Uint8Array {
  if (hostChallenge.length !== CHALLENGE_LENGTH || cardChallenge.length !== CHALLENGE_LENGTH) {
    throw new Scp03Error('MALFORMED_APDU', `challenges of ${hostChallenge.length} and ${cardChallenge.length} bytes (8 expected)`);
  }
  const context = new Uint8Array(2 * CHALLENGE_LENGTH);
  context.set(hostChallenge);
  context.set(cardChallenge, CHALLENGE_LENGTH);
  return context;
}

/** Session keys have the length of the static keys (L = 128, 192 or 256). */
export function deriveSessionKeys(keys: Scp03KeySet, context: Uint8Array): SessionKeys {
  const bits = keys.enc.length * 8;
  return {
    sEnc: scp03Derive(keys.enc, DERIVATION_CONSTANT.S_ENC, context, bits),
    sMac: scp03Derive(keys.mac, DERIVATION_CONSTANT.S_MAC, context, bits),
    sRmac: scp03Derive(keys.mac, DERIVATION_CONSTANT.S_RMAC, context, bits),
  };
}

export function cardCryptogram(sMac: Uint8Array, context: Uint8Array): Uint8Array {
  return scp03Derive(sMac, DERIVATION_CONSTANT.CARD_CRYPTOGRAM, context, CRYPTOGRAM_LENGTH * 8);
}

export function hostCryptogram(sMac: Uint8Array, context: Uint8Array): Uint8Array {
  return scp03Derive(sMac, DERIVATION_CONSTANT.HOST_CRYPTOGRAM, context, CRYPTOGRAM_LENGTH * 8);
}

/**
 * The pseudo-random card challenge (Amendment D 6.2.2.1): KEY_ENC over the 3-byte sequence
 * counter and the AID of the Security Domain the channel is opened with.
 */
export function pseudoRandomCardChallenge(keyEnc: Uint8Array, sequenceCounter: number, aid: Uint8Array): Uint8Array {
  if (!Number.isInteger(sequenceCounter) || sequenceCounter < 0 || sequenceCounter > 0xffffff) {
    throw new Scp03Error('SEQUENCE', 'sequence counter outside 3 bytes');
  }
  const context = new Uint8Array(SEQUENCE_COUNTER_LENGTH + aid.length);
  context.set([(sequenceCounter >> 16) & 0xff, (sequenceCounter >> 8) & 0xff, sequenceCounter & 0xff]);
  context.set(aid, SEQUENCE_COUNTER_LENGTH);
  return scp03Derive(keyEnc, DERIVATION_CONSTANT.CARD_CHALLENGE, context, CHALLENGE_LENGTH * 8);
}

/** Equality that takes the same time wherever the first difference is (cryptograms, MACs). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
