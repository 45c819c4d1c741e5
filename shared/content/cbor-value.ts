import { CodecError } from '../errors.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ResourceType, type ResourceValue } from '../lwm2m/value.ts';
import type { BoundedTokenizer, CborItem } from './cbor-decode.ts';
import type { CborWriter } from './cbor-encode.ts';
import { checkDeclaredType } from './single-value.ts';
import { formatObjectLink, parseObjectLink } from './text-plain.ts';

/**
 * One resource value as a CBOR item (RFC 8949 major types), the same in LwM2M CBOR and in plain
 * CBOR: integer and unsigned are major 0/1; float is binary32 when exact, else binary64 (half
 * floats are read too); boolean is true/false; string and corelnk are text strings; opaque is a
 * byte string; objlnk is the text "o:i"; time is an integer with tag 1 (epoch seconds, RFC 8949
 * 3.4.2), which Anjay Lite requires; untagged integers are read as time too, and so are integers
 * for a float resource.
 *
 * Resources the model does not know are typed by the item: integers as integer (unsigned above
 * 2^63-1), floats as float, text as string, bytes as opaque, tag 1 as time. Not supported: null
 * (a Write-Composite deletion in LwM2M CBOR), other tags (e.g. tag 4 decimal fractions), and
 * tag 1 on anything but an integer.
 */

/** A value item as CBOR wrote it, before the resource's type gives it meaning; 'time' is tag 1 over an integer. */
export type CborLeaf =
  | { readonly kind: 'integer' | 'time'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array };

export function writeCborValue(writer: CborWriter, value: ResourceValue, declared: ResourceType | undefined, field: string): void {
  checkDeclaredType(value, declared, field);
  switch (value.type) {
    case 'string':
    case 'corelnk':
      writer.text(value.value);
      return;
    case 'objlnk':
      writer.text(formatObjectLink(value.value, field));
      return;
    case 'integer':
      writer.integer(inRange(value.value, INTEGER_MIN, INTEGER_MAX, { field }), field);
      return;
    case 'unsigned':
      writer.integer(inRange(value.value, 0n, UNSIGNED_MAX, { field }), field);
      return;
    case 'time':
      writer.tag(1).integer(inRange(value.value, INTEGER_MIN, INTEGER_MAX, { field }), field);
      return;
    case 'float':
      writer.float(value.value);
      return;
    case 'boolean':
      writer.boolean(value.value);
      return;
    case 'opaque':
      writer.bytes(value.value);
      return;
  }
}

/** Reads the value item that `item` starts (a tag reads the item it tags from `tokens`). */
export function readCborLeaf(tokens: BoundedTokenizer, { token, offset }: CborItem, field: string): CborLeaf {
  switch (token.type.name) {
    case 'uint':
    case 'negint':
      return { kind: 'integer', value: BigInt(token.value as number | bigint) };
    case 'float':
      return { kind: 'float', value: token.value as number };
    case 'true':
    case 'false':
      return { kind: 'boolean', value: token.type.name === 'true' };
    case 'bytes':
      // A plain copy: a Buffer input would otherwise leave a Buffer view of the payload here.
      return { kind: 'bytes', value: new Uint8Array(token.value as Uint8Array) };
    case 'string':
      return { kind: 'text', value: token.value as string };
    case 'tag': {
      if (token.value !== 1) throw new CodecError('UNSUPPORTED', `CBOR tag ${String(token.value)} is not supported`, { offset, field });
      const tagged = tokens.read();
      if (tagged.token.type.name !== 'uint' && tagged.token.type.name !== 'negint') {
        throw new CodecError('UNSUPPORTED', 'tag 1 (epoch time) is supported on integers only', { offset: tagged.offset, field });
      }
      return { kind: 'time', value: BigInt(tagged.token.value as number | bigint) };
    }
    case 'null':
      throw new CodecError('UNSUPPORTED', 'null values (Write-Composite deletions) are not supported', { offset, field });
    default:
      throw new CodecError('MALFORMED', `a CBOR ${token.type.name} cannot be a resource value`, { offset, field });
  }
}

/** The leaf as a value of the declared type; `declared` is undefined for resources the model does not know. */
export function cborLeafValue(leaf: CborLeaf, declared: ResourceType | undefined, offset: number, field: string): ResourceValue {
  const mismatch = (): CodecError =>
    new CodecError('TYPE_MISMATCH', `a CBOR ${leaf.kind} does not fit a ${declared ?? 'generic'} resource`, { offset, field });
  const ranged = (value: bigint, min: bigint, max: bigint): bigint => inRange(value, min, max, { offset, field });
  switch (declared) {
    case undefined:
      return genericValue(leaf, ranged);
    case 'none':
      throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { offset, field });
    case 'string':
    case 'corelnk':
      if (leaf.kind !== 'text') throw mismatch();
      return { type: declared, value: leaf.value };
    case 'objlnk':
      if (leaf.kind !== 'text') throw mismatch();
      return { type: declared, value: parseObjectLink(leaf.value, field) };
    case 'integer':
      if (leaf.kind !== 'integer') throw mismatch();
      return { type: declared, value: ranged(leaf.value, INTEGER_MIN, INTEGER_MAX) };
    case 'unsigned':
      if (leaf.kind !== 'integer') throw mismatch();
      return { type: declared, value: ranged(leaf.value, 0n, UNSIGNED_MAX) };
    case 'time':
      if (leaf.kind !== 'integer' && leaf.kind !== 'time') throw mismatch();
      return { type: declared, value: ranged(leaf.value, INTEGER_MIN, INTEGER_MAX) };
    case 'float':
      if (leaf.kind === 'integer') return { type: declared, value: Number(leaf.value) };
      if (leaf.kind !== 'float') throw mismatch();
      return { type: declared, value: leaf.value };
    case 'boolean':
      if (leaf.kind !== 'boolean') throw mismatch();
      return { type: declared, value: leaf.value };
    case 'opaque':
      if (leaf.kind !== 'bytes') throw mismatch();
      return { type: declared, value: leaf.value };
  }
}

function genericValue(leaf: CborLeaf, ranged: (value: bigint, min: bigint, max: bigint) => bigint): ResourceValue {
  switch (leaf.kind) {
    case 'integer':
      return leaf.value > INTEGER_MAX
        ? { type: 'unsigned', value: ranged(leaf.value, 0n, UNSIGNED_MAX) }
        : { type: 'integer', value: ranged(leaf.value, INTEGER_MIN, INTEGER_MAX) };
    case 'time':
      return { type: 'time', value: ranged(leaf.value, INTEGER_MIN, INTEGER_MAX) };
    case 'text':
      return { type: 'string', value: leaf.value };
    case 'bytes':
      return { type: 'opaque', value: leaf.value };
    case 'float':
      return { type: 'float', value: leaf.value };
    case 'boolean':
      return { type: 'boolean', value: leaf.value };
  }
}

function inRange(value: bigint, min: bigint, max: bigint, detail: { offset?: number; field: string }): bigint {
  if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `value outside ${min}..${max}`, detail);
  return value;
}
