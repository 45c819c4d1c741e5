import { CodecError } from '../errors.ts';
import { formatPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ObjectLink, type ResourceValue, type ValueType } from '../lwm2m/value.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { checkDeclaredType, requireSingleValuePath, singleValueAt } from './single-value.ts';
import { treeFromPathValues } from './tree.ts';

/**
 * text/plain (content format 0): one resource or resource instance value as text, LwM2M Core
 * 6.4.1 / 7.4.1 with the "Text Format" column of Appendix C (Data Types):
 *   string, corelnk  the UTF-8 text itself
 *   integer, time    ASCII signed decimal ("-750", "1476186613")
 *   unsigned         ASCII decimal
 *   float            ASCII decimal; we write it without exponent as the appendix does
 *                    ("0.00000000006667"), and also read "6.667e-11"
 *   boolean          "0" or "1"
 *   opaque           Base64 [RFC4648] with padding ("AQIDBAU=" for 01 02 03 04 05)
 *   objlnk           "objectId:instanceId" in decimal
 *
 * Only /o/i/r and /o/i/r/ri carry a value; other request paths are UNSUPPORTED. A multiple
 * resource has no text form at /o/i/r: ask for one of its instances. Unknown resources decode
 * as string. LwM2M JSON and the CBOR formats reuse the value helpers exported here.
 */

// fatal: bad UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF belongs to the value.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

export const textPlainCodec: TreeCodec = {
  encode(tree, path, types = builtInResourceTypes) {
    const value = singleValueAt(tree, path, 'text/plain');
    checkDeclaredType(value, types(path.objectId!, path.resourceId!), formatPath(path));
    return utf8.encode(formatTextValue(value, formatPath(path)));
  },
  decode(bytes, path, types = builtInResourceTypes) {
    requireSingleValuePath(path, 'text/plain');
    if (bytes.length > DecodeLimits.maxPayloadBytes) {
      throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
    }
    const field = formatPath(path);
    const declared = types(path.objectId!, path.resourceId!);
    if (declared === 'none') throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { field });
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new CodecError('MALFORMED', 'text/plain payload is not valid UTF-8', { field });
    }
    return treeFromPathValues([{ path, value: parseTextValue(text, declared ?? 'string', field) }], path);
  },
};

export function formatTextValue(value: ResourceValue, field: string): string {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return value.value;
    case 'integer':
    case 'time':
      checkRange(value.value, INTEGER_MIN, INTEGER_MAX, value.type, field);
      return value.value.toString();
    case 'unsigned':
      checkRange(value.value, 0n, UNSIGNED_MAX, value.type, field);
      return value.value.toString();
    case 'float':
      return formatDecimal(value.value, field);
    case 'boolean':
      return value.value ? '1' : '0';
    case 'opaque':
      return encodeBase64(value.value);
    case 'objlnk':
      return formatObjectLink(value.value, field);
  }
}

/** Reads the text form of `type`. Messages never repeat the text: it may be a secret. */
export function parseTextValue(text: string, type: ValueType, field: string): ResourceValue {
  switch (type) {
    case 'string':
    case 'corelnk':
      return { type, value: text };
    case 'integer':
    case 'time':
      return { type, value: parseDecimalInteger(text, INTEGER_MIN, INTEGER_MAX, type, field) };
    case 'unsigned':
      return { type, value: parseDecimalInteger(text, 0n, UNSIGNED_MAX, type, field) };
    case 'float': {
      if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) {
        throw new CodecError('TYPE_MISMATCH', 'float must be a decimal number', { field });
      }
      const value = Number(text);
      if (!Number.isFinite(value)) throw new CodecError('OUT_OF_RANGE', 'float is beyond binary64', { field });
      return { type, value };
    }
    case 'boolean':
      if (text !== '0' && text !== '1') throw new CodecError('TYPE_MISMATCH', 'boolean must be "0" or "1"', { field });
      return { type, value: text === '1' };
    case 'opaque':
      return { type, value: decodeBase64(text, field) };
    case 'objlnk':
      return { type, value: parseObjectLink(text, field) };
  }
}

function checkRange(value: bigint, min: bigint, max: bigint, type: string, field: string): void {
  if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `${type} value outside ${min}..${max}`, { field });
}

function parseDecimalInteger(text: string, min: bigint, max: bigint, type: string, field: string): bigint {
  const match = /^([+-]?)0*([0-9]+)$/.exec(text);
  if (match === null) throw new CodecError('TYPE_MISMATCH', `${type} must be decimal digits with an optional sign`, { field });
  // 20 digits hold every 64-bit value; checking first keeps BigInt away from megabytes of digits.
  if (match[2]!.length > 20) throw new CodecError('OUT_OF_RANGE', `${type} value outside ${min}..${max}`, { field });
  const value = BigInt(`${match[1]}${match[2]}`);
  checkRange(value, min, max, type, field);
  return value;
}

/** Plain decimal notation of a finite double: the shortest round-trip digits, exponent spelled out. */
export function formatDecimal(value: number, field: string): string {
  if (!Number.isFinite(value)) throw new CodecError('OUT_OF_RANGE', 'NaN and infinities have no decimal form', { field });
  const shortest = String(value);
  const match = /^(-?)([0-9])(?:\.([0-9]+))?e([+-][0-9]+)$/.exec(shortest);
  if (match === null) return shortest;
  const [, sign, lead, rest = '', exponent] = match;
  const digits = `${lead}${rest}`;
  const point = 1 + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function formatObjectLink(link: ObjectLink, field: string): string {
  for (const id of [link.objectId, link.instanceId]) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
      throw new CodecError('OUT_OF_RANGE', 'object link ids must be integers 0..65535', { field });
    }
  }
  return `${link.objectId}:${link.instanceId}`;
}

export function parseObjectLink(text: string, field: string): ObjectLink {
  const match = /^([0-9]{1,5}):([0-9]{1,5})$/.exec(text);
  if (match === null) throw new CodecError('TYPE_MISMATCH', 'object link must be "objectId:instanceId" in decimal', { field });
  const objectId = Number(match[1]);
  const instanceId = Number(match[2]);
  if (objectId > 0xffff || instanceId > 0xffff) throw new CodecError('OUT_OF_RANGE', 'object link ids are 0..65535', { field });
  return { objectId, instanceId };
}
