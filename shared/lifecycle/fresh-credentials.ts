import { randomBytes } from 'node:crypto';
import { classifyBootstrapKey } from './key-entropy.ts';
import type { KeyOwner } from './key-entropy.ts';

/** The longest PSK identity the credential schemas take (`serverCredentialsSchema.identity`). */
export const PSK_IDENTITY_MAX_CHARS = 128;
/** 64 random bits in each identity: collisions are not expected, `taken` catches the rest. */
export const IDENTITY_RANDOM_BYTES = 8;
/** How many identities are drawn before giving up on finding a free one. */
export const MAX_IDENTITY_ATTEMPTS = 8;
/** 128 bits by default (seed 000's high-entropy bar); 256 bits on request. */
export type FreshKeyBytes = 16 | 32;

/** A PSK account's credentials: the identity as /0/x/3 takes it (UTF-8 text) and the key (/0/x/5). */
export interface FreshPsk {
  readonly identity: string;
  readonly key: Uint8Array;
}

export interface FreshPskOptions {
  readonly endpoint: string;
  /** Whether an identity already belongs to an account; a taken one is drawn again. */
  readonly taken?: (identity: string) => boolean;
  readonly keyBytes?: FreshKeyBytes;
  /** The device's identifiers, which the new key is checked against; the endpoint alone if absent. */
  readonly device?: KeyOwner;
  /** The CSPRNG (node:crypto's by default); replaceable so tests can force collisions. */
  readonly random?: (size: number) => Uint8Array;
}

export interface FreshServerPskOptions extends FreshPskOptions {
  /** The Short Server ID of the LwM2M Server account the credentials are for (1..65534). */
  readonly shortServerId: number;
}

/**
 * New credentials for a Bootstrap-Server account that replaces a low-entropy one (seed 000,
 * step 4): a key from the CSPRNG and an identity unique to the account, which reads as
 * `<endpoint>#bs-<13 base32 characters>` so an operator can tell whose it is.
 */
export function freshBootstrapPsk(options: FreshPskOptions): FreshPsk {
  return mintPsk(options, 'bs');
}

/** New credentials for a LwM2M Server account: identity `<endpoint>#s<Short Server ID>-<base32>`. */
export function freshServerPsk(options: FreshServerPskOptions): FreshPsk {
  const { shortServerId } = options;
  if (!Number.isInteger(shortServerId) || shortServerId < 1 || shortServerId > 65534) {
    throw new RangeError(`Short Server ID ${shortServerId} is outside 1..65534`);
  }
  return mintPsk(options, `s${shortServerId}`);
}

/** A fresh key that classifies high is drawn again only if the source is broken; a few tries suffice. */
const MAX_KEY_DRAWS = 4;

function mintPsk(options: FreshPskOptions, account: string): FreshPsk {
  const { endpoint, taken, keyBytes = 16, random = defaultRandom } = options;
  if (endpoint.length === 0) throw new RangeError('a fresh PSK needs an endpoint name');
  if (keyBytes !== 16 && keyBytes !== 32) throw new RangeError(`a fresh PSK key has 16 or 32 bytes, not ${String(keyBytes)}`);
  const identity = freeIdentity(endpoint, account, taken, random);
  const device = options.device ?? { endpoint, identities: {} };
  for (let draw = 0; draw < MAX_KEY_DRAWS; draw += 1) {
    const key = drawBytes(random, keyBytes);
    // A key a CSPRNG gives classifies high but for chance coincidences (all printable, say);
    // one that would not is drawn again, so a replacement never looks low to the next check.
    if (classifyBootstrapKey({ key, identity, device }).entropy === 'high') return { identity, key };
  }
  throw new Error(`the random source gave no high-entropy key for ${endpoint} in ${MAX_KEY_DRAWS} draws`);
}

function freeIdentity(endpoint: string, account: string, taken: ((identity: string) => boolean) | undefined, random: (size: number) => Uint8Array): string {
  for (let attempt = 0; attempt < MAX_IDENTITY_ATTEMPTS; attempt += 1) {
    const suffix = `#${account}-${base32(drawBytes(random, IDENTITY_RANDOM_BYTES))}`;
    // A long endpoint gives up its tail, never the random part that makes the identity unique.
    const identity = endpoint.slice(0, PSK_IDENTITY_MAX_CHARS - suffix.length) + suffix;
    if (taken === undefined || !taken(identity)) return identity;
  }
  throw new Error(`no free PSK identity for ${endpoint} after ${MAX_IDENTITY_ATTEMPTS} attempts`);
}

function defaultRandom(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size));
}

function drawBytes(random: (size: number) => Uint8Array, size: number): Uint8Array {
  const bytes = random(size);
  if (bytes.length !== size) throw new RangeError(`the random source gave ${bytes.length} bytes where ${size} were asked for`);
  return bytes;
}

/** RFC 4648 base32, lowercase and unpadded: case-insensitive and free of look-alike digits 0, 1, 8. */
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let text = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += BASE32_ALPHABET[(buffer >> bits) & 0x1f];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) text += BASE32_ALPHABET[(buffer << (5 - bits)) & 0x1f];
  return text;
}
