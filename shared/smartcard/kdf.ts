/**
 * NIST SP 800-108 key derivation in counter mode with AES-CMAC as the PRF and an 8-bit counter,
 * and the fixed input data SCP03 feeds it (GP Card Specification v2.2 Amendment D, section 4.1.5).
 *
 * SCP03 puts the counter between two parts of the fixed data (label, separator and L before it,
 * the context after), so the general form takes both parts; NIST's BEFORE_FIXED layout is the
 * case with nothing before the counter.
 */
import { aesCmac } from './aes-cmac.ts';
import { Scp03Error } from './scp03-error.ts';

const PRF_OUTPUT_BITS = 128;

export interface CounterModeInput {
  /** Fixed input data placed before the counter byte. */
  readonly beforeCounter: Uint8Array;
  /** Fixed input data placed after the counter byte. */
  readonly afterCounter: Uint8Array;
  /** Output length L in bits; a multiple of 8. */
  readonly lengthBits: number;
}

/** K(i) = CMAC(Ki, before || [i]_8 || after) for i = 1..n, concatenated and cut to L bits. */
export function kdfCounterModeCmac(key: Uint8Array, input: CounterModeInput): Uint8Array {
  const { beforeCounter, afterCounter, lengthBits } = input;
  const iterations = Math.ceil(lengthBits / PRF_OUTPUT_BITS);
  if (lengthBits <= 0 || lengthBits % 8 !== 0 || iterations > 0xff) {
    throw new Scp03Error('KEY', `KDF output of ${lengthBits} bits`);
  }
  const out = new Uint8Array(iterations * (PRF_OUTPUT_BITS / 8));
  const message = new Uint8Array(beforeCounter.length + 1 + afterCounter.length);
  message.set(beforeCounter);
  message.set(afterCounter, beforeCounter.length + 1);
  for (let counter = 1; counter <= iterations; counter += 1) {
    message[beforeCounter.length] = counter;
    out.set(aesCmac(key, message), (counter - 1) * (PRF_OUTPUT_BITS / 8));
  }
  return out.slice(0, lengthBits / 8);
}

/** Derivation constants of Amendment D table 4-1. */
export const DERIVATION_CONSTANT = {
  CARD_CRYPTOGRAM: 0x00,
  HOST_CRYPTOGRAM: 0x01,
  CARD_CHALLENGE: 0x02,
  S_ENC: 0x04,
  S_MAC: 0x06,
  S_RMAC: 0x07,
} as const;
export type DerivationConstant = (typeof DERIVATION_CONSTANT)[keyof typeof DERIVATION_CONSTANT];

/** The label: 11 zero bytes and the derivation constant. */
const LABEL_LENGTH = 12;

/**
 * SCP03's derivation: label (11 x 00 || constant) || separation indicator 00 || L (2 bytes) ||
 * i (1 byte) || context. The context is host challenge || card challenge for session keys and
 * cryptograms, sequence counter || AID for a pseudo-random card challenge.
 */
export function scp03Derive(key: Uint8Array, constant: DerivationConstant, context: Uint8Array, lengthBits: number): Uint8Array {
  const beforeCounter = new Uint8Array(LABEL_LENGTH + 1 + 2);
  beforeCounter[LABEL_LENGTH - 1] = constant;
  beforeCounter[LABEL_LENGTH + 1] = (lengthBits >> 8) & 0xff;
  beforeCounter[LABEL_LENGTH + 2] = lengthBits & 0xff;
  return kdfCounterModeCmac(key, { beforeCounter, afterCounter: context, lengthBits });
}
