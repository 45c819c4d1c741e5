/**
 * Record protection for TLS_PSK_WITH_AES_128_CCM_8 (RFC 6655 section 3, RFC 7925 section 4.3):
 *
 *   nonce            = client/server_write_IV (4 bytes) + nonce_explicit (8 bytes)
 *   nonce_explicit   = epoch + sequence_number, sent in front of the ciphertext
 *   additional_data  = epoch + sequence_number + type + version + plaintext length
 *   fragment         = nonce_explicit + ciphertext + 8-byte tag
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concatBytes, uintBytes } from './bytes.ts';
import { BadRecordMacError } from './record-protection-error.ts';
import type { RecordCipher, RecordContext } from './record-cipher.ts';
import { recordSequence } from './record.ts';

export const CCM_8_TAG_LENGTH = 8;
export const CCM_8_EXPLICIT_NONCE_LENGTH = 8;
/** Bytes a protected fragment adds to its plaintext. */
export const CCM_8_OVERHEAD = CCM_8_EXPLICIT_NONCE_LENGTH + CCM_8_TAG_LENGTH;

export interface Ccm8Keys {
  /** client_write_key or server_write_key, 16 bytes. */
  readonly key: Uint8Array;
  /** client_write_IV or server_write_IV, 4 bytes. */
  readonly implicitIv: Uint8Array;
}

export type { RecordContext };

function additionalData(context: RecordContext, plaintextLength: number): Uint8Array {
  return concatBytes(
    recordSequence(context.epoch, context.sequenceNumber),
    uintBytes(context.type, 1),
    uintBytes(context.version, 2),
    uintBytes(plaintextLength, 2),
  );
}

function checkKeys(keys: Ccm8Keys): void {
  if (keys.key.length !== 16 || keys.implicitIv.length !== 4) {
    throw new RangeError('AES-128-CCM-8 needs a 16-byte key and a 4-byte implicit IV');
  }
}

/** The record fragment (nonce_explicit + ciphertext + tag) for `plaintext`. */
export function encryptCcm8(keys: Ccm8Keys, context: RecordContext, plaintext: Uint8Array): Uint8Array {
  checkKeys(keys);
  const explicitNonce = recordSequence(context.epoch, context.sequenceNumber);
  const cipher = createCipheriv('aes-128-ccm', keys.key, concatBytes(keys.implicitIv, explicitNonce), {
    authTagLength: CCM_8_TAG_LENGTH,
  });
  cipher.setAAD(additionalData(context, plaintext.length), { plaintextLength: plaintext.length });
  const ciphertext = concatBytes(cipher.update(plaintext), cipher.final());
  return concatBytes(explicitNonce, ciphertext, cipher.getAuthTag());
}

/** The plaintext of a protected fragment; any failure at all is a BadRecordMacError. */
export function decryptCcm8(keys: Ccm8Keys, context: RecordContext, fragment: Uint8Array): Uint8Array {
  try {
    checkKeys(keys);
    if (fragment.length < CCM_8_OVERHEAD) throw new BadRecordMacError();
    const explicitNonce = fragment.subarray(0, CCM_8_EXPLICIT_NONCE_LENGTH);
    const ciphertext = fragment.subarray(CCM_8_EXPLICIT_NONCE_LENGTH, fragment.length - CCM_8_TAG_LENGTH);
    const tag = fragment.subarray(fragment.length - CCM_8_TAG_LENGTH);
    const decipher = createDecipheriv('aes-128-ccm', keys.key, concatBytes(keys.implicitIv, explicitNonce), {
      authTagLength: CCM_8_TAG_LENGTH,
    });
    decipher.setAuthTag(tag);
    decipher.setAAD(additionalData(context, ciphertext.length), { plaintextLength: ciphertext.length });
    // With CCM, Node authenticates inside update(); final() throws if the tag did not match.
    const plaintext = decipher.update(ciphertext);
    decipher.final();
    return new Uint8Array(plaintext);
  } catch {
    throw new BadRecordMacError();
  }
}

/** One direction's CCM_8 keys as a RecordCipher. */
export function ccm8Cipher(keys: Ccm8Keys): RecordCipher {
  checkKeys(keys);
  return {
    protect: (context, plaintext) => encryptCcm8(keys, context, plaintext),
    open: (context, fragment) => decryptCcm8(keys, context, fragment),
  };
}
