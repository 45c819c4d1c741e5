/**
 * AES-CMAC (NIST SP 800-38B; RFC 4493 for AES-128). SCP03 uses it three ways: as the PRF of its
 * key derivation, for C-MAC and R-MAC, and (through the KDF) for the cryptograms.
 */
import { AES_BLOCK_SIZE, aesCbcEncrypt, aesEncryptBlock } from './aes.ts';

/** Rb for a 128-bit block (SP 800-38B section 5.3). */
const RB = 0x87;

/** Doubling in GF(2^128): shift left one bit, and fold the carry back in with Rb. */
function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(AES_BLOCK_SIZE);
  for (let index = 0; index < AES_BLOCK_SIZE; index += 1) {
    out[index] = ((block[index]! << 1) | ((block[index + 1] ?? 0) >> 7)) & 0xff;
  }
  if ((block[0]! & 0x80) !== 0) out[AES_BLOCK_SIZE - 1]! ^= RB;
  return out;
}

export interface CmacSubkeys {
  readonly k1: Uint8Array;
  readonly k2: Uint8Array;
}

export function cmacSubkeys(key: Uint8Array): CmacSubkeys {
  const k1 = double(aesEncryptBlock(key, new Uint8Array(AES_BLOCK_SIZE)));
  return { k1, k2: double(k1) };
}

/** The full 16-byte tag; SCP03 keeps all of it as the MAC chaining value and sends 8 bytes. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const { k1, k2 } = cmacSubkeys(key);
  const blocks = Math.max(1, Math.ceil(message.length / AES_BLOCK_SIZE));
  const lastComplete = message.length > 0 && message.length % AES_BLOCK_SIZE === 0;
  const last = new Uint8Array(AES_BLOCK_SIZE);
  const lastStart = (blocks - 1) * AES_BLOCK_SIZE;
  last.set(message.subarray(lastStart));
  if (!lastComplete) last[message.length - lastStart] = 0x80;
  const subkey = lastComplete ? k1 : k2;
  for (let index = 0; index < AES_BLOCK_SIZE; index += 1) last[index]! ^= subkey[index]!;

  // CBC-MAC with a zero IV over the message with its last block replaced: the tag is the last
  // ciphertext block.
  const input = new Uint8Array(blocks * AES_BLOCK_SIZE);
  input.set(message.subarray(0, lastStart));
  input.set(last, lastStart);
  return aesCbcEncrypt(key, new Uint8Array(AES_BLOCK_SIZE), input).slice(-AES_BLOCK_SIZE);
}
