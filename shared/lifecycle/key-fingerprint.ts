import { createHmac, randomBytes } from 'node:crypto';

/** 256 bits: as strong as SHA-256 itself, far beyond any brute force. */
export const PEPPER_BYTES = 32;
/** A shorter pepper is refused: it would make the fingerprints themselves guessable. */
export const MIN_PEPPER_BYTES = 16;

/**
 * The fingerprint of a key: HMAC-SHA256 under the installation's pepper, as lowercase hex.
 * The store indexes it so it can count the devices that share a key (seed 002's "global secret
 * stored on multiple devices") without comparing or indexing raw keys.
 *
 * Why a pepper and not a plain SHA-256: the keys this index exists to catch are the low-entropy
 * ones, derived from a PIN, a serial number or an IMEI. Anyone who reads the table could hash
 * every PIN or every IMEI of a TAC range and look the results up, recovering those keys from
 * their plain hashes. Under a secret pepper, kept outside the table, the fingerprints are useless
 * without it, and equal keys still give equal fingerprints inside one installation.
 */
export function keyFingerprint(key: Uint8Array, pepper: Uint8Array): string {
  if (pepper.length < MIN_PEPPER_BYTES) {
    throw new RangeError(`the fingerprint pepper has ${pepper.length} bytes, at least ${MIN_PEPPER_BYTES} are needed`);
  }
  return createHmac('sha256', pepper).update(key).digest('hex');
}

/** A new per-installation pepper from the CSPRNG; generated once and kept as a secret. */
export function generatePepper(): Uint8Array {
  return new Uint8Array(randomBytes(PEPPER_BYTES));
}

/** A key's fingerprint as lowercase hex: 64 digits for HMAC-SHA256. */
export const KEY_FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Takes key fingerprints under the installation's secret: a pepper held outside the table
 * locally, a KMS HMAC key on AWS. Equal keys give equal fingerprints within one installation,
 * so the store's index can count the devices holding a key; nobody who reads the table alone
 * can test a guess (a PIN, an IMEI) against a fingerprint.
 */
export interface KeyFingerprinter {
  /** The key's fingerprint as 64 lowercase hex digits; errors never carry key bytes. */
  fingerprint(key: Uint8Array): Promise<string>;
}

/** keyFingerprint under a pepper the caller keeps secret (a file in the local data directory). */
export class PepperKeyFingerprinter implements KeyFingerprinter {
  readonly #pepper: Uint8Array;

  constructor(pepper: Uint8Array) {
    if (pepper.length < MIN_PEPPER_BYTES) {
      throw new RangeError(`the fingerprint pepper has ${pepper.length} bytes, at least ${MIN_PEPPER_BYTES} are needed`);
    }
    // A copy: the caller may zero or reuse its buffer.
    this.#pepper = Uint8Array.from(pepper);
  }

  async fingerprint(key: Uint8Array): Promise<string> {
    return keyFingerprint(key, this.#pepper);
  }
}
