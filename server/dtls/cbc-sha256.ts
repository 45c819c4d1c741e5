/**
 * Record protection for TLS_PSK_WITH_AES_128_CBC_SHA256 (RFC 5487, RFC 5246 section 6.2.3.2,
 * RFC 6347 section 4.1.2.1): MAC-then-encrypt.
 *
 *   MAC       = HMAC-SHA256(mac_key, epoch + sequence_number + type + version + length + plaintext)
 *   fragment  = IV (16 random bytes) + AES-128-CBC(enc_key, IV, plaintext + MAC + padding)
 *   padding   = padding_length + 1 bytes, each of value padding_length, to a 16-byte boundary
 *
 * Opening a record must not tell an attacker whether the padding or the MAC was wrong (padding
 * oracle, Lucky13): every failure is the same BadRecordMacError, the MAC is computed even when the
 * padding is bad (over the data as if there were no padding, as RFC 5246 6.2.3.2 advises), and a
 * dummy HMAC over the bytes left out keeps the hashed length about the same either way. JavaScript
 * gives no hard constant-time guarantee; this removes the large, measurable differences.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { concatBytes, uintBytes } from './bytes.ts';
import { BadRecordMacError } from './record-protection-error.ts';
import type { RecordCipher, RecordContext } from './record-cipher.ts';
import { recordSequence } from './record.ts';

export const CBC_BLOCK_LENGTH = 16;
export const SHA256_MAC_LENGTH = 32;
/** The shortest protected fragment: IV, then one MAC and at least one padding byte, whole blocks. */
export const CBC_SHA256_MIN_FRAGMENT = CBC_BLOCK_LENGTH + 48;

export interface CbcSha256Keys {
  /** client_write_MAC_key or server_write_MAC_key, 32 bytes. */
  readonly macKey: Uint8Array;
  /** client_write_key or server_write_key, 16 bytes. */
  readonly encKey: Uint8Array;
}

function checkKeys(keys: CbcSha256Keys): void {
  if (keys.macKey.length !== SHA256_MAC_LENGTH || keys.encKey.length !== 16) {
    throw new RangeError('AES-128-CBC-SHA256 needs a 32-byte MAC key and a 16-byte key');
  }
}

function mac(keys: CbcSha256Keys, context: RecordContext, plaintext: Uint8Array): Uint8Array {
  const header = concatBytes(
    recordSequence(context.epoch, context.sequenceNumber),
    uintBytes(context.type, 1),
    uintBytes(context.version, 2),
    uintBytes(plaintext.length, 2),
  );
  return new Uint8Array(createHmac('sha256', keys.macKey).update(header).update(plaintext).digest());
}

/** The record fragment for `plaintext`; `iv` is for known-answer tests only. */
export function encryptCbcSha256(
  keys: CbcSha256Keys,
  context: RecordContext,
  plaintext: Uint8Array,
  iv: Uint8Array = new Uint8Array(randomBytes(CBC_BLOCK_LENGTH)),
): Uint8Array {
  checkKeys(keys);
  if (iv.length !== CBC_BLOCK_LENGTH) throw new RangeError('the CBC IV is one block');
  const unpadded = plaintext.length + SHA256_MAC_LENGTH;
  const paddingLength = CBC_BLOCK_LENGTH - 1 - (unpadded % CBC_BLOCK_LENGTH);
  const padding = new Uint8Array(paddingLength + 1).fill(paddingLength);
  const cipher = createCipheriv('aes-128-cbc', keys.encKey, iv).setAutoPadding(false);
  const ciphertext = concatBytes(cipher.update(concatBytes(plaintext, mac(keys, context, plaintext), padding)), cipher.final());
  return concatBytes(iv, ciphertext);
}

/** The plaintext of a protected fragment; any failure at all is a BadRecordMacError. */
export function decryptCbcSha256(keys: CbcSha256Keys, context: RecordContext, fragment: Uint8Array): Uint8Array {
  let decrypted: Uint8Array;
  try {
    checkKeys(keys);
    // Lengths are public (they are on the wire), so refusing them early reveals nothing.
    if (fragment.length < CBC_SHA256_MIN_FRAGMENT || fragment.length % CBC_BLOCK_LENGTH !== 0) throw new BadRecordMacError();
    const decipher = createDecipheriv('aes-128-cbc', keys.encKey, fragment.subarray(0, CBC_BLOCK_LENGTH)).setAutoPadding(false);
    decrypted = new Uint8Array(concatBytes(decipher.update(fragment.subarray(CBC_BLOCK_LENGTH)), decipher.final()));
  } catch {
    throw new BadRecordMacError();
  }

  // Padding check without an early exit: every candidate padding byte is looked at.
  const claimed = decrypted[decrypted.length - 1]!;
  const fits = claimed + 1 + SHA256_MAC_LENGTH <= decrypted.length;
  let paddingBad = fits ? 0 : 1;
  const checked = Math.min(256, decrypted.length);
  for (let i = 1; i <= checked; i++) {
    const inPadding = i <= claimed + 1 ? 1 : 0;
    paddingBad |= inPadding & (decrypted[decrypted.length - i]! ^ claimed ? 1 : 0);
  }
  // With bad padding, MAC as if there were none: the work is the same and the MAC then fails.
  const paddingLength = paddingBad === 0 ? claimed + 1 : 0;
  const plaintextLength = decrypted.length - SHA256_MAC_LENGTH - paddingLength;
  const plaintext = decrypted.subarray(0, Math.max(0, plaintextLength));
  const received = decrypted.subarray(plaintext.length, plaintext.length + SHA256_MAC_LENGTH);
  const expected = mac(keys, context, plaintext);
  // Hash the bytes the MAC left out as well, so the HMAC work does not depend on the padding.
  createHmac('sha256', keys.macKey).update(decrypted.subarray(plaintext.length + SHA256_MAC_LENGTH)).digest();
  const macGood = received.length === SHA256_MAC_LENGTH && timingSafeEqual(received, expected);
  if (!macGood || paddingBad !== 0 || plaintextLength < 0) throw new BadRecordMacError();
  return plaintext.slice();
}

/** One direction's CBC-SHA256 keys as a RecordCipher. */
export function cbcSha256Cipher(keys: CbcSha256Keys): RecordCipher {
  checkKeys(keys);
  return {
    protect: (context, plaintext) => encryptCbcSha256(keys, context, plaintext),
    open: (context, fragment) => decryptCbcSha256(keys, context, fragment),
  };
}
