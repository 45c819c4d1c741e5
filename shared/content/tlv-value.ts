import { CodecError } from '../errors.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ResourceType, type ResourceValue } from '../lwm2m/value.ts';

/**
 * Resource values in a TLV Value field (LwM2M Core, Data Types appendix, "TLV Format" column):
 * integer and time are big-endian two's complement of 1, 2, 4 or 8 bytes; unsigned is the same
 * without sign; float is binary32 or binary64; boolean is one byte 0 or 1; objlnk is two
 * uint16 (object id, instance id); string and corelnk are UTF-8; opaque is the bytes as they are.
 *
 * The bytes do not say which type they hold, so the decoder takes it from the object model.
 * A resource the model does not know decodes as opaque: its bytes survive a round trip and
 * nothing is guessed.
 */

const utf8 = new TextEncoder();
// fatal: bad UTF-8 must be an error, not U+FFFD; ignoreBOM: a leading U+FEFF is part of the value.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const LONE_SURROGATE = /\p{Cs}/u;

/** Which wire form a type uses; types of the same form share bytes. */
type WireForm = 'signed' | 'unsigned' | 'float' | 'boolean' | 'objlnk' | 'utf8' | 'opaque';

function wireForm(type: Exclude<ResourceType, 'none'>): WireForm {
  switch (type) {
    case 'integer':
    case 'time':
      return 'signed';
    case 'string':
    case 'corelnk':
      return 'utf8';
    default:
      return type;
  }
}

/**
 * The Value bytes of `value`. When the model declares the resource's type, the value must use
 * the same wire form, or the client would read different bytes than we meant.
 */
export function encodeTlvValue(value: ResourceValue, declared: ResourceType | undefined, field: string): Uint8Array {
  if (declared === 'none') {
    throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { field });
  }
  if (declared !== undefined && wireForm(declared) !== wireForm(value.type)) {
    throw new CodecError('TYPE_MISMATCH', `a ${value.type} value cannot be written to a ${declared} resource`, { field });
  }
  switch (value.type) {
    case 'integer':
    case 'time':
      return encodeSigned(value.value, field);
    case 'unsigned':
      return encodeUnsigned(value.value, field);
    case 'float':
      return encodeFloat(value.value);
    case 'boolean':
      return Uint8Array.of(value.value ? 1 : 0);
    case 'objlnk':
      return encodeObjlnk(value.value.objectId, value.value.instanceId, field);
    case 'string':
    case 'corelnk':
      if (LONE_SURROGATE.test(value.value)) {
        throw new CodecError('TYPE_MISMATCH', `${value.type} value holds a lone UTF-16 surrogate, which UTF-8 cannot carry`, { field });
      }
      return utf8.encode(value.value);
    case 'opaque':
      return value.value;
  }
}

function encodeSigned(value: bigint, field: string): Uint8Array {
  if (value < INTEGER_MIN || value > INTEGER_MAX) {
    throw new CodecError('OUT_OF_RANGE', 'integer does not fit 64 signed bits', { field });
  }
  for (const size of [1, 2, 4, 8]) {
    const limit = 1n << BigInt(size * 8 - 1);
    if (value >= -limit && value < limit) return bigEndian(BigInt.asUintN(size * 8, value), size);
  }
  throw new CodecError('OUT_OF_RANGE', 'integer does not fit 64 signed bits', { field });
}

function encodeUnsigned(value: bigint, field: string): Uint8Array {
  if (value < 0n || value > UNSIGNED_MAX) {
    throw new CodecError('OUT_OF_RANGE', 'unsigned integer does not fit 64 bits', { field });
  }
  const size = value <= 0xffn ? 1 : value <= 0xffffn ? 2 : value <= 0xffff_ffffn ? 4 : 8;
  return bigEndian(value, size);
}

function bigEndian(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let rest = value;
  for (let index = size - 1; index >= 0; index--, rest >>= 8n) out[index] = Number(rest & 0xffn);
  return out;
}

function encodeFloat(value: number): Uint8Array {
  // binary32 whenever it holds the value exactly; NaN never compares equal, so it takes binary64.
  if (Math.fround(value) === value) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setFloat32(0, value);
    return out;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value);
  return out;
}

function encodeObjlnk(objectId: number, instanceId: number, field: string): Uint8Array {
  for (const id of [objectId, instanceId]) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
      throw new CodecError('OUT_OF_RANGE', 'object link ids must be integers 0..65535', { field });
    }
  }
  return Uint8Array.of(objectId >> 8, objectId & 0xff, instanceId >> 8, instanceId & 0xff);
}

/** The value in `bytes` (a TLV's Value field) read as `declared`; `offset` locates it for errors. */
export function decodeTlvValue(bytes: Uint8Array, declared: ResourceType | undefined, field: string, offset: number): ResourceValue {
  const mismatch = (what: string): CodecError =>
    new CodecError('TYPE_MISMATCH', `${what}, got ${bytes.length} bytes`, { offset, field });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (declared) {
    case undefined:
    case 'opaque':
      return { type: 'opaque', value: bytes.slice() };
    case 'none':
      throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { offset, field });
    case 'integer':
    case 'time':
      if (!isIntegerSize(bytes.length)) throw mismatch(`${declared} must be 1, 2, 4 or 8 bytes`);
      return { type: declared, value: BigInt.asIntN(bytes.length * 8, readBigEndian(bytes)) };
    case 'unsigned':
      if (!isIntegerSize(bytes.length)) throw mismatch('unsigned must be 1, 2, 4 or 8 bytes');
      return { type: 'unsigned', value: readBigEndian(bytes) };
    case 'float':
      if (bytes.length === 4) return { type: 'float', value: view.getFloat32(0) };
      if (bytes.length === 8) return { type: 'float', value: view.getFloat64(0) };
      throw mismatch('float must be 4 or 8 bytes');
    case 'boolean':
      if (bytes.length !== 1) throw mismatch('boolean must be 1 byte');
      if (bytes[0]! > 1) throw new CodecError('TYPE_MISMATCH', 'boolean byte must be 0 or 1', { offset, field });
      return { type: 'boolean', value: bytes[0] === 1 };
    case 'objlnk':
      if (bytes.length !== 4) throw mismatch('objlnk must be 4 bytes');
      return { type: 'objlnk', value: { objectId: view.getUint16(0), instanceId: view.getUint16(2) } };
    case 'string':
    case 'corelnk':
      try {
        return { type: declared, value: strictUtf8.decode(bytes) };
      } catch {
        throw new CodecError('TYPE_MISMATCH', `${declared} is not valid UTF-8`, { offset, field });
      }
  }
}

function isIntegerSize(length: number): boolean {
  return length === 1 || length === 2 || length === 4 || length === 8;
}

function readBigEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}
