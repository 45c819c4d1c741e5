import { CodecError } from '../errors.ts';
import { MAX_ID } from '../lwm2m/path.ts';

/**
 * The framing of one OMA TLV entry (LwM2M Core 7.4.3, "TLV format and description"):
 *
 *   Type byte: bits 7-6 kind, bit 5 identifier is 16 bits, bits 4-3 length field size
 *              (00 none, 01 8 bits, 10 16 bits, 11 24 bits), bits 2-0 the length when
 *              there is no length field (ignored otherwise, as the spec requires)
 *   Identifier: 8 or 16 bits, big-endian
 *   Length:     0, 8, 16 or 24 bits, big-endian
 *   Value:      Length bytes
 */
export type TlvKind = 'objectInstance' | 'resourceInstance' | 'multipleResource' | 'resource';

const KIND_BITS: Readonly<Record<TlvKind, number>> = {
  objectInstance: 0b00,
  resourceInstance: 0b01,
  multipleResource: 0b10,
  resource: 0b11,
};
const KINDS: readonly TlvKind[] = ['objectInstance', 'resourceInstance', 'multipleResource', 'resource'];

/** Names as the spec's tables write them, for error messages. */
export const TLV_KIND_NAMES: Readonly<Record<TlvKind, string>> = {
  objectInstance: 'Object Instance',
  resourceInstance: 'Resource Instance',
  multipleResource: 'Multiple Resource',
  resource: 'Resource with Value',
};

/** The largest value a 24-bit length field can announce (the spec's "16.7 MB"). */
export const MAX_TLV_LENGTH = 0xffffff;

/** One entry as read: where its header starts and where its value lies in the input. */
export interface TlvEntry {
  readonly kind: TlvKind;
  readonly id: number;
  readonly offset: number;
  readonly valueStart: number;
  readonly valueEnd: number;
}

/**
 * Reads the entry at `offset`. Its value must end within `parent`'s value, or within the input
 * when there is no parent. The announced length is checked before anything is sliced.
 */
export function readTlvEntry(bytes: Uint8Array, offset: number, parent?: TlvEntry): TlvEntry {
  const end = parent === undefined ? bytes.length : parent.valueEnd;
  // Running out of input is TRUNCATED; running out of the enclosing TLV is a bad length there.
  const overrun = parent === undefined ? 'TRUNCATED' : 'MALFORMED';
  const within = parent === undefined ? 'the input' : `the enclosing ${TLV_KIND_NAMES[parent.kind]} TLV`;
  const type = bytes[offset];
  if (offset >= end || type === undefined) {
    throw new CodecError(overrun, `${within} ends before a TLV type byte`, { offset });
  }
  const kind = KINDS[type >> 6]!;
  const idSize = type & 0b0010_0000 ? 2 : 1;
  const lengthSize = (type >> 3) & 0b11;
  const valueStart = offset + 1 + idSize + lengthSize;
  if (valueStart > end) {
    throw new CodecError(overrun, `${TLV_KIND_NAMES[kind]} TLV header runs past the end of ${within}`, { offset });
  }
  const id = readUint(bytes, offset + 1, idSize);
  if (id >= MAX_ID) {
    throw new CodecError('OUT_OF_RANGE', `${TLV_KIND_NAMES[kind]} TLV identifier ${id} is reserved`, { offset });
  }
  const length = lengthSize === 0 ? type & 0b111 : readUint(bytes, offset + 1 + idSize, lengthSize);
  if (length > end - valueStart) {
    throw new CodecError(overrun, `${TLV_KIND_NAMES[kind]} TLV announces ${length} value bytes but ${end - valueStart} remain in ${within}`, {
      offset,
    });
  }
  return { kind, id, offset, valueStart, valueEnd: valueStart + length };
}

/** Reads entries back to back filling `parent`'s value, or the whole input without a parent. */
export function readTlvEntries(bytes: Uint8Array, parent?: TlvEntry): TlvEntry[] {
  const entries: TlvEntry[] = [];
  const end = parent === undefined ? bytes.length : parent.valueEnd;
  for (let offset = parent === undefined ? 0 : parent.valueStart; offset < end; ) {
    const entry = readTlvEntry(bytes, offset, parent);
    entries.push(entry);
    offset = entry.valueEnd;
  }
  return entries;
}

/** One entry with the shortest identifier and length fields that hold `id` and the value. */
export function writeTlvEntry(kind: TlvKind, id: number, value: Uint8Array, field: string): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) {
    throw new CodecError('OUT_OF_RANGE', `${TLV_KIND_NAMES[kind]} identifier must be an integer 0..${MAX_ID - 1}`, { field });
  }
  const length = value.length;
  if (length > MAX_TLV_LENGTH) {
    throw new CodecError('LIMIT_EXCEEDED', `${TLV_KIND_NAMES[kind]} value of ${length} bytes exceeds the 24-bit TLV length`, { field });
  }
  const idSize = id > 0xff ? 2 : 1;
  const lengthSize = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  const out = new Uint8Array(1 + idSize + lengthSize + length);
  out[0] = (KIND_BITS[kind] << 6) | (idSize === 2 ? 0b0010_0000 : 0) | (lengthSize << 3) | (lengthSize === 0 ? length : 0);
  writeUint(out, 1, idSize, id);
  writeUint(out, 1 + idSize, lengthSize, length);
  out.set(value, 1 + idSize + lengthSize);
  return out;
}

function readUint(bytes: Uint8Array, offset: number, size: number): number {
  let value = 0;
  for (let index = 0; index < size; index++) value = value * 256 + bytes[offset + index]!;
  return value;
}

function writeUint(out: Uint8Array, offset: number, size: number, value: number): void {
  for (let index = size - 1, rest = value; index >= 0; index--, rest = Math.floor(rest / 256)) {
    out[offset + index] = rest & 0xff;
  }
}
