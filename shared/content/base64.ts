import { CodecError } from '../errors.ts';

/**
 * The two Base64 forms of RFC 4648 that LwM2M uses: standard Base64 with padding (section 4) for
 * opaque values in text/plain and LwM2M JSON, and base64url without padding (section 5) for
 * SenML "vd" (RFC 8428 section 4.3). Messages never quote the text: it may be a key.
 */
const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const sextetsOf = (alphabet: string): [string, number][] => [...alphabet].map((char, index) => [char, index]);
const STANDARD_SEXTETS: ReadonlyMap<string, number> = new Map(sextetsOf(STANDARD));
// Some clients write the standard alphabet in "vd"; its two extra characters mean the same sextets.
const URL_SAFE_SEXTETS: ReadonlyMap<string, number> = new Map([...sextetsOf(URL_SAFE), ['+', 62], ['/', 63]]);

/** RFC 4648 section 4 Base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  const text = encodeSextets(bytes, STANDARD);
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

/**
 * Strict RFC 4648 Base64: padded to a multiple of 4, no whitespace, and the unused bits of the
 * last character zero (section 3.5), so each byte string has exactly one text form.
 */
export function decodeBase64(text: string, field: string): Uint8Array {
  const invalid = (): CodecError => new CodecError('TYPE_MISMATCH', 'opaque value is not padded Base64', { field });
  if (text.length % 4 !== 0) throw invalid();
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const { bytes, unusedBits } = decodeSextets(text.slice(0, text.length - padding), STANDARD_SEXTETS, invalid);
  if (unusedBits !== 0) throw invalid();
  return bytes;
}

/** base64url (RFC 4648 section 5) without padding, as RFC 8428 section 4.3 requires for "vd". */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeSextets(bytes, URL_SAFE);
}

/** Reads base64url; also takes padding and the standard alphabet, which some clients send. */
export function decodeBase64Url(text: string, field: string): Uint8Array {
  const body = text.replace(/={1,2}$/, '');
  if ((body !== text && text.length % 4 !== 0) || body.length % 4 === 1) {
    throw new CodecError('MALFORMED', 'base64url text has an impossible length', { field });
  }
  const invalid = (): CodecError => new CodecError('MALFORMED', 'base64url text has a character outside the alphabet', { field });
  return decodeSextets(body, URL_SAFE_SEXTETS, invalid).bytes;
}

/** Six bits a character, no padding: the last group has 2 or 3 characters when bytes remain. */
function encodeSextets(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  for (let index = 0; index < bytes.length; index += 3) {
    const chunk = (bytes[index]! << 16) | ((bytes[index + 1] ?? 0) << 8) | (bytes[index + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - index) * 8) / 6));
    for (let sextet = 0; sextet < chars; sextet += 1) out += alphabet[(chunk >> (18 - 6 * sextet)) & 63];
  }
  return out;
}

/** The bytes of unpadded text, and the value of the bits left over after the last whole byte. */
function decodeSextets(
  body: string,
  sextets: ReadonlyMap<string, number>,
  invalid: () => CodecError,
): { bytes: Uint8Array; unusedBits: number } {
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (const char of body) {
    const sextet = sextets.get(char);
    if (sextet === undefined) throw invalid();
    buffer = ((buffer << 6) | sextet) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[written++] = (buffer >> bits) & 0xff;
    }
  }
  return { bytes, unusedBits: buffer & ((1 << bits) - 1) };
}
