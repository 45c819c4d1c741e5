import { z } from 'zod';

/**
 * Where an importer says a Bootstrap-Server account key came from. Seed 002 defines a key as
 * low entropy "when it is derived from a PIN, password or device serial number, or, derived
 * from a global secret stored on multiple devices"; `imei` is the common serial-number case
 * and `shared` the global secret. Only `random` (a strong source of randomness) is high.
 */
export const keyOrigin = z.enum(['random', 'pin', 'password', 'serial', 'imei', 'shared']);
export type KeyOrigin = z.infer<typeof keyOrigin>;

export type KeyEntropy = 'high' | 'low';

/** 128 bits: the least a high-entropy key may carry (the fresh keys we mint are this or more). */
export const MIN_HIGH_ENTROPY_KEY_BYTES = 16;
const MIN_HIGH_ENTROPY_BITS = MIN_HIGH_ENTROPY_KEY_BYTES * 8;

/**
 * Shorter identifiers (or parts of them) are not looked for: a random key would contain them
 * by chance too often. At 6 characters ASCII costs 48 bits of coincidence and packed digits
 * 24 bits, about one false hit per 300 000 random 32-byte keys per identifier, and a false hit
 * only costs a key rotation.
 */
export const MIN_IDENTIFIER_CHARS = 6;

/** The device's own identifiers a key must not be derived from. */
export interface KeyOwner {
  readonly endpoint: string;
  readonly identities: { readonly imsi?: string; readonly iccid?: string; readonly imei?: string };
  readonly msisdn?: string;
  readonly serial?: string;
}

export type DeviceIdentifierName = 'endpoint' | 'imsi' | 'iccid' | 'imei' | 'msisdn' | 'serial' | 'identity';

/**
 * How an identifier can sit in a key. `ascii`: its characters (letters in either case).
 * `bcd`: its digits packed two to a byte, first digit in the high nibble; this is also an
 * identifier of hex digits pasted into a hex key field. `bcd-swapped`: first digit in the low
 * nibble, as SIM files store IMSI and ICCID (3GPP TS 31.102). `ascii-hex`: the hex text of its
 * ASCII, stored as characters.
 */
export type IdentifierEncoding = 'ascii' | 'bcd' | 'bcd-swapped' | 'ascii-hex';

/**
 * The structure that bounds a key's entropy below 128 bits. `repeated-block`: a block of fewer
 * than 16 bytes repeated (00..00, 'passwordpassword'). `repeated-step`: the differences between
 * consecutive bytes repeat so (counters like 00 01 02.., '123456789012..'). `text`: every byte is
 * from a small alphabet (decimal or hex digits, letters and digits, printable ASCII) and the key
 * is too short for that alphabet to reach 128 bits: a PIN or a password typed as the key.
 */
export type KeyPattern = 'repeated-block' | 'repeated-step' | 'text';

/** Why a key is low entropy. `text` is for operators; no reason ever holds key bytes. */
export type LowEntropyReason =
  | { readonly code: 'declared-low'; readonly origin: Exclude<KeyOrigin, 'random'>; readonly text: string }
  | { readonly code: 'too-short'; readonly bytes: number; readonly text: string }
  | {
      readonly code: 'derived-from-identifier';
      readonly identifier: DeviceIdentifierName;
      readonly encoding: IdentifierEncoding;
      readonly text: string;
    }
  | { readonly code: 'repeated-pattern'; readonly pattern: KeyPattern; readonly text: string }
  | { readonly code: 'shared-key'; readonly devices: number; readonly text: string };

export type LowEntropyCode = LowEntropyReason['code'];

export interface BootstrapKeyFacts {
  readonly key: Uint8Array;
  /** The account's PSK identity, when it has one: a key derived from it is as guessable. */
  readonly identity?: string;
  readonly device: KeyOwner;
  readonly declaredOrigin?: KeyOrigin;
  /** How many devices hold this key, as the store's fingerprint index counts them. */
  readonly devicesSharingKey?: number;
}

export interface KeyClassification {
  readonly entropy: KeyEntropy;
  readonly reasons: readonly LowEntropyReason[];
}

/**
 * Classifies a Bootstrap-Server account key as high or low entropy (seeds 000 and 002). Low when
 * the importer declared it so, or when a check finds it: shorter than 128 bits, derived from the
 * device's identifiers, structured (see KeyPattern), or on more than one device. Every reason
 * found is returned, so an operator sees all of them at once.
 */
export function classifyBootstrapKey(facts: BootstrapKeyFacts): KeyClassification {
  const { key, declaredOrigin, devicesSharingKey } = facts;
  const reasons: LowEntropyReason[] = [];
  if (declaredOrigin !== undefined && declaredOrigin !== 'random') {
    reasons.push({ code: 'declared-low', origin: declaredOrigin, text: `declared at import as derived from ${ORIGIN_TEXT[declaredOrigin]}` });
  }
  if (key.length < MIN_HIGH_ENTROPY_KEY_BYTES) {
    reasons.push({
      code: 'too-short',
      bytes: key.length,
      text: `the key has ${key.length * 8} bits, fewer than the ${MIN_HIGH_ENTROPY_BITS} a high-entropy key needs`,
    });
  }
  reasons.push(...identifierReasons(key, facts.device, facts.identity));
  const pattern = keyPattern(key);
  if (pattern !== undefined) reasons.push({ code: 'repeated-pattern', pattern, text: PATTERN_TEXT[pattern] });
  if (devicesSharingKey !== undefined && devicesSharingKey > 1) {
    reasons.push({ code: 'shared-key', devices: devicesSharingKey, text: `the same key is on ${devicesSharingKey} devices` });
  }
  return { entropy: reasons.length > 0 ? 'low' : 'high', reasons };
}

const ORIGIN_TEXT: Readonly<Record<Exclude<KeyOrigin, 'random'>, string>> = {
  pin: 'a PIN',
  password: 'a password',
  serial: 'a serial number',
  imei: 'the IMEI',
  shared: 'a secret shared by many devices',
};

const PATTERN_TEXT: Readonly<Record<KeyPattern, string>> = {
  'repeated-block': 'the key repeats a block shorter than 128 bits',
  'repeated-step': 'the key counts up or down in a repeating step',
  text: 'the key is text from an alphabet too small to give it 128 bits',
};

const IDENTIFIER_TEXT: Readonly<Record<DeviceIdentifierName, string>> = {
  endpoint: 'the endpoint name',
  imsi: 'the IMSI',
  iccid: 'the ICCID',
  imei: 'the IMEI',
  msisdn: 'the MSISDN',
  serial: 'the serial number',
  identity: 'the PSK identity',
};

const ENCODING_TEXT: Readonly<Record<IdentifierEncoding, string>> = {
  ascii: 'as text',
  bcd: 'as packed BCD',
  'bcd-swapped': 'as packed BCD with swapped nibbles',
  'ascii-hex': 'as the hex of its text',
};

// ---- derived from an identifier ----

/** One reason per identifier the key holds, with the first encoding that finds it. */
function identifierReasons(key: Uint8Array, device: KeyOwner, identity: string | undefined): LowEntropyReason[] {
  const sources: [DeviceIdentifierName, string | undefined][] = [
    ['endpoint', device.endpoint],
    ['imsi', device.identities.imsi],
    ['iccid', device.identities.iccid],
    ['imei', device.identities.imei],
    ['msisdn', device.msisdn],
    ['serial', device.serial],
    ['identity', identity],
  ];
  const folded = key.map(foldAsciiCase);
  const reasons: LowEntropyReason[] = [];
  for (const [identifier, value] of sources) {
    if (value === undefined) continue;
    const encoding = encodingFound(key, folded, candidates(value));
    if (encoding === undefined) continue;
    reasons.push({
      code: 'derived-from-identifier',
      identifier,
      encoding,
      text: `the key holds ${IDENTIFIER_TEXT[identifier]} ${ENCODING_TEXT[encoding]}`,
    });
  }
  return reasons;
}

/**
 * The identifier itself and the parts a key is likely built from: runs of letters and digits
 * (the IMEI in `urn:imei:…`, the digits of `+44…`) and runs of decimal digits (an ICCID without
 * its F filler). Each at least MIN_IDENTIFIER_CHARS long.
 */
function candidates(value: string): string[] {
  const parts = [value, ...value.split(/[^0-9A-Za-z]+/), ...(value.match(/\d+/g) ?? [])];
  return [...new Set(parts)].filter((part) => part.length >= MIN_IDENTIFIER_CHARS);
}

function encodingFound(key: Uint8Array, folded: Uint8Array, values: readonly string[]): IdentifierEncoding | undefined {
  for (const value of values) {
    const ascii = new TextEncoder().encode(value).map(foldAsciiCase);
    if (indexOfBytes(folded, ascii)) return 'ascii';
    if (/^[0-9A-Fa-f]+$/.test(value)) {
      const nibbles = Array.from(value, (digit) => parseInt(digit, 16));
      if (containsPacked(key, nibbles, false)) return 'bcd';
      if (containsPacked(key, nibbles, true)) return 'bcd-swapped';
    }
    const asciiHex = new TextEncoder().encode(Array.from(ascii, (byte) => byte.toString(16).padStart(2, '0')).join(''));
    if (indexOfBytes(folded, asciiHex)) return 'ascii-hex';
  }
  return undefined;
}

function foldAsciiCase(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let start = 0; start + needle.length <= haystack.length; start += 1) {
    for (let index = 0; index < needle.length; index += 1) {
      if (haystack[start + index] !== needle[index]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * Whether the digits sit in the key packed two to a byte from some byte boundary on. An odd
 * count leaves the last digit in half a byte; the other half (often an F filler) is not checked.
 */
function containsPacked(key: Uint8Array, nibbles: readonly number[], swapped: boolean): boolean {
  const bytesNeeded = Math.ceil(nibbles.length / 2);
  outer: for (let start = 0; start + bytesNeeded <= key.length; start += 1) {
    for (let index = 0; index < nibbles.length; index += 1) {
      const byte = key[start + (index >> 1)]!;
      const highFirst = (index & 1) === 0 ? !swapped : swapped;
      if ((highFirst ? byte >> 4 : byte & 0x0f) !== nibbles[index]) continue outer;
    }
    return true;
  }
  return false;
}

// ---- structured keys ----

/**
 * The first structure that caps the key below 128 bits. Each check bounds the entropy the
 * structure leaves and flags the key only when that bound is under 128 bits, and only when the
 * structure shows at least twice, so a random key of 16 bytes or more trips one by chance with
 * a probability under 2^-56 (the text check: (95/256)^16, about 1 in 7 million, at 16 bytes).
 */
function keyPattern(key: Uint8Array): KeyPattern | undefined {
  // A block of p bytes repeated: at most 8p bits.
  const block = shortestPeriod(key);
  if (block * 2 <= key.length && block * 8 < MIN_HIGH_ENTROPY_BITS) return 'repeated-block';
  // The first byte and a repeated run of q differences: at most 8(q + 1) bits.
  const steps = key.subarray(1).map((byte, index) => (byte - key[index]!) & 0xff);
  const step = shortestPeriod(steps);
  if (steps.length > 0 && step * 2 <= steps.length && (step + 1) * 8 < MIN_HIGH_ENTROPY_BITS) return 'repeated-step';
  // Every byte from an alphabet of s symbols: at most n·log2(s) bits.
  const alphabet = TEXT_ALPHABETS.find(({ symbols }) => key.length > 0 && key.every((byte) => symbols.test(String.fromCharCode(byte))));
  if (alphabet !== undefined && key.length * Math.log2(alphabet.size) < MIN_HIGH_ENTROPY_BITS) return 'text';
  return undefined;
}

/** Smallest p with bytes[i] = bytes[i - p] for every i ≥ p (bytes.length when none is shorter). */
function shortestPeriod(bytes: Uint8Array): number {
  for (let period = 1; period < bytes.length; period += 1) {
    let repeats = true;
    for (let index = period; index < bytes.length && repeats; index += 1) repeats = bytes[index] === bytes[index - period];
    if (repeats) return period;
  }
  return bytes.length;
}

/** Smallest first, so a key of digits is bounded by 10 symbols and not by 95. */
const TEXT_ALPHABETS: readonly { readonly symbols: RegExp; readonly size: number }[] = [
  { symbols: /^[0-9]$/, size: 10 },
  { symbols: /^[0-9a-f]$/, size: 16 },
  { symbols: /^[0-9A-F]$/, size: 16 },
  { symbols: /^[0-9A-Za-z]$/, size: 62 },
  { symbols: /^[\x20-\x7e]$/, size: 95 },
];
