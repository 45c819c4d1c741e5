import { concatBytes } from '../content/bytes.ts';
import { CodecError, type CodecErrorDetail } from '../errors.ts';

/**
 * The slice of ASN.1 DER (ITU-T X.690 §8, §10) that PKCS#15 directory files need: one-byte tags
 * (tag numbers 0-30), definite lengths in their shortest form, and the few universal types the
 * ODF and DODF use. Decoding is strict DER, so a file reads back to the bytes it came from; every
 * problem is a CodecError with the byte offset into the outermost input.
 */

export const DerTag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
} as const;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;
/** Longest content we accept; PKCS#15 directory files are a few hundred bytes, EFs at most 64 KiB. */
const MAX_LENGTH = 0xffff;

/** `[n]` context-specific tag byte: constructed for EXPLICIT tags and tagged SEQUENCEs/CHOICEs. */
export function contextTag(tagNumber: number, constructed: boolean): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) throw new RangeError(`context tag number ${tagNumber} needs one tag byte`);
  return CONTEXT | (constructed ? CONSTRUCTED : 0) | tagNumber;
}

export function isConstructed(tag: number): boolean {
  return (tag & CONSTRUCTED) !== 0;
}

// ---------------------------------------------------------------------------------------------
// Encoding

export function derElement(tag: number, content: Uint8Array): Uint8Array {
  if (content.length > MAX_LENGTH) throw new CodecError('LIMIT_EXCEEDED', `DER content of ${content.length} bytes exceeds ${MAX_LENGTH}`);
  return concatBytes([Uint8Array.of(tag), derLength(content.length), content]);
}

/** X.690 §10.1: the definite form, short when the length is below 128, else the fewest octets. */
function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  return Uint8Array.of(0x82, length >> 8, length & 0xff);
}

export function derConstructed(tag: number, children: readonly Uint8Array[]): Uint8Array {
  return derElement(tag, concatBytes(children));
}

export const derSequence = (children: readonly Uint8Array[]): Uint8Array => derConstructed(DerTag.SEQUENCE, children);
export const derOctetString = (bytes: Uint8Array): Uint8Array => derElement(DerTag.OCTET_STRING, bytes);
export const derUtf8String = (text: string): Uint8Array => derElement(DerTag.UTF8_STRING, new TextEncoder().encode(text));

/** X.690 §8.19: the first two arcs folded into one subidentifier, each in base 128. */
export function derObjectIdentifier(oid: string): Uint8Array {
  return derElement(DerTag.OBJECT_IDENTIFIER, oidContent(oid));
}

export function oidContent(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]{0,8}))+$/.test(oid)) throw new RangeError(`"${oid}" is not an object identifier we encode`);
  const arcs = oid.split('.').map(Number);
  const [first, second, ...rest] = arcs as [number, number, ...number[]];
  if (first < 2 && second > 39) throw new RangeError(`"${oid}": the second arc under ${first} is at most 39`);
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const septets = [arc & 0x7f];
    for (let rest7 = Math.floor(arc / 128); rest7 > 0; rest7 = Math.floor(rest7 / 128)) septets.unshift((rest7 & 0x7f) | 0x80);
    out.push(...septets);
  }
  return Uint8Array.from(out);
}

/**
 * A BIT STRING of named bits (X.680 §22.7): DER drops trailing zero bits (X.690 §11.2.2), so
 * no bits set is `03 01 00` and bit 0 alone is `03 02 07 80`.
 */
export function derNamedBits(bits: readonly number[]): Uint8Array {
  const highest = bits.length === 0 ? -1 : Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1 + 1);
  for (const bit of bits) bytes[1 + Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  bytes[0] = highest < 0 ? 0 : 7 - (highest % 8);
  return derElement(DerTag.BIT_STRING, highest < 0 ? Uint8Array.of(0) : bytes);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** One decoded element; offsets index the outermost input, so errors point at real bytes. */
export interface DerElement {
  readonly tag: number;
  readonly offset: number;
  readonly contentStart: number;
  readonly end: number;
  /** The content bytes (a view into the input). */
  readonly content: Uint8Array;
}

/** A window onto the input: the whole file, or one constructed element's content. */
export interface DerScope {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

export function scopeOf(bytes: Uint8Array): DerScope {
  return { bytes, start: 0, end: bytes.length };
}

export function childScope(scope: DerScope, element: DerElement): DerScope {
  return { bytes: scope.bytes, start: element.contentStart, end: element.end };
}

/** Reads the element at `offset`; it must end within the scope. */
export function readDerElement(scope: DerScope, offset: number, field?: string): DerElement {
  const { bytes, end: limit } = scope;
  const at = (index: number): number => {
    if (index >= limit) throw new CodecError('TRUNCATED', 'DER element header is cut short', detailAt(index, field));
    return bytes[index]!;
  };
  const tag = at(offset);
  if ((tag & 0x1f) === 0x1f) throw new CodecError('UNSUPPORTED', `multi-byte DER tag 0x${hex2(tag)}`, detailAt(offset, field));
  const first = at(offset + 1);
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new CodecError('MALFORMED', 'indefinite length is not DER', detailAt(offset + 1, field));
    if (count > 2) throw new CodecError('LIMIT_EXCEEDED', `DER length of ${count} octets`, detailAt(offset + 1, field));
    length = 0;
    for (let index = 0; index < count; index += 1) length = length * 256 + at(offset + 2 + index);
    contentStart = offset + 2 + count;
    const shortest = length < 0x80 ? 0 : length <= 0xff ? 1 : 2;
    if (count !== shortest) throw new CodecError('MALFORMED', 'DER length not in its shortest form', detailAt(offset + 1, field));
  }
  const end = contentStart + length;
  if (end > limit) {
    throw new CodecError('TRUNCATED', `DER element announces ${length} content bytes, ${Math.max(0, limit - contentStart)} remain`, detailAt(offset, field));
  }
  return { tag, offset, contentStart, end, content: bytes.subarray(contentStart, end) };
}

/** Every element of a scope, back to back, filling it exactly. */
export function readDerElements(scope: DerScope, field?: string): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = scope.start; offset < scope.end; ) {
    const element = readDerElement(scope, offset, field);
    out.push(element);
    offset = element.end;
  }
  return out;
}

export function expectTag(element: DerElement, tag: number, what: string): DerElement {
  if (element.tag !== tag) {
    throw new CodecError('MALFORMED', `${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(element.tag)}`, { offset: element.offset, field: what });
  }
  return element;
}

export function decodeUtf8(element: DerElement, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(element.content);
  } catch {
    throw new CodecError('MALFORMED', `${what} is not UTF-8`, { offset: element.contentStart, field: what });
  }
}

/** Dotted text of an OBJECT IDENTIFIER's content; rejects non-minimal subidentifiers. */
export function decodeOid(content: Uint8Array, offset: number, what: string): string {
  if (content.length === 0) throw new CodecError('MALFORMED', 'empty object identifier', { offset, field: what });
  const subidentifiers: number[] = [];
  let value = 0;
  let fresh = true;
  for (let index = 0; index < content.length; index += 1) {
    const byte = content[index]!;
    if (fresh && byte === 0x80) throw new CodecError('MALFORMED', 'object identifier arc with a leading 0x80', { offset: offset + index, field: what });
    value = value * 128 + (byte & 0x7f);
    if (value > 0xffffffff) throw new CodecError('LIMIT_EXCEEDED', 'object identifier arc above 2^32', { offset: offset + index, field: what });
    fresh = (byte & 0x80) === 0;
    if (fresh) {
      subidentifiers.push(value);
      value = 0;
    }
  }
  if (!fresh) throw new CodecError('TRUNCATED', 'object identifier ends inside an arc', { offset: offset + content.length, field: what });
  const [head, ...rest] = subidentifiers as [number, ...number[]];
  const first = head < 80 ? Math.floor(head / 40) : 2;
  return [first, head - first * 40, ...rest].join('.');
}

/** Bit numbers set in a DER BIT STRING of named bits. */
export function decodeNamedBits(element: DerElement, what: string): number[] {
  const { content } = element;
  const unused = content[0];
  if (unused === undefined || unused > 7 || (content.length === 1 && unused !== 0)) {
    throw new CodecError('MALFORMED', `${what}: bad BIT STRING`, { offset: element.contentStart, field: what });
  }
  const bits: number[] = [];
  for (let index = 1; index < content.length; index += 1) {
    for (let bit = 0; bit < 8; bit += 1) if ((content[index]! & (0x80 >> bit)) !== 0) bits.push((index - 1) * 8 + bit);
  }
  const last = content[content.length - 1]!;
  // X.690 §11.2.2: no trailing zero bits, and the unused bits themselves are zero.
  if (content.length > 1 && (last === 0 || (last & ((1 << unused) - 1)) !== 0 || (last & (1 << unused)) === 0)) {
    throw new CodecError('MALFORMED', `${what}: BIT STRING of named bits not in DER form`, { offset: element.contentStart, field: what });
  }
  return bits;
}

function detailAt(offset: number, field: string | undefined): CodecErrorDetail {
  return field === undefined ? { offset } : { offset, field };
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
