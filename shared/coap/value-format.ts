import { CodecError } from '../errors.ts';

/**
 * The option value formats of RFC 7252 3.2: uint (big-endian, as few bytes as possible, 0 is
 * the zero-length value) and string (UTF-8 in Net-Unicode form). Opaque and empty need no code.
 */

const EMPTY = new Uint8Array(0);

/** Big-endian unsigned integer of 0..4 bytes; leading zero bytes are accepted (RFC 7252 3.2 says SHOULD). */
export function decodeUint(value: Uint8Array): number {
  let result = 0;
  for (let index = 0; index < value.length; index++) {
    // Multiplication, not <<, so a 4-byte value does not turn negative.
    result = result * 256 + value[index]!;
  }
  return result;
}

/** The shortest big-endian form; the caller has checked `value` is an integer 0..2^32-1. */
export function encodeUint(value: number): Uint8Array {
  if (value === 0) return EMPTY;
  const length = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
  const bytes = new Uint8Array(length);
  let rest = value;
  for (let index = length - 1; index >= 0; index--) {
    bytes[index] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return bytes;
}

// ignoreBOM keeps a leading U+FEFF as a character, so the string re-encodes to the same bytes.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export function decodeUtf8(value: Uint8Array, field: string, offset?: number): string {
  try {
    return utf8Decoder.decode(value);
  } catch {
    throw new CodecError('MALFORMED', 'option value is not valid UTF-8', { field, offset });
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function encodeUtf8(text: string, field: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new CodecError('TYPE_MISMATCH', 'option value must be a string', { field });
  }
  // Paths and queries are ASCII almost always, and TextEncoder costs far more on short strings.
  const ascii = new Uint8Array(text.length);
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit > 0x7f) return encodeNonAscii(text, field);
    ascii[index] = unit;
  }
  return ascii;
}

function encodeNonAscii(text: string, field: string): Uint8Array {
  // TextEncoder would silently write U+FFFD for these, changing the value.
  if (LONE_SURROGATE.test(text)) {
    throw new CodecError('MALFORMED', 'option value contains a lone UTF-16 surrogate', { field });
  }
  return utf8Encoder.encode(text);
}
