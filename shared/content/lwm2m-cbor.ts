import { Tokenizer, type Token } from 'cborg';
import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { formatPath, MAX_ID, pathFromSegments, pathSegments, type LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ResourceType, type ResourceValue } from '../lwm2m/value.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { checkDeclaredType, formatObjectLink, parseObjectLink } from './text-plain.ts';
import { selectTreeAtPath, treeFromPathValues, type ContentTree, type PathValue, type ResourceNode } from './tree.ts';

/**
 * LwM2M CBOR (content format 11544, application/vnd.oma.lwm2m+cbor, LwM2M 1.2 Core 7.4.6):
 * nested CBOR maps that follow the object tree. A map key is one path id (unsigned integer) or
 * an array of consecutive ids, so `{[1, 0]: {0: 101, 1: 300}}` and `{1: {0: {0: 101, 1: 300}}}`
 * are the same instance. A value (any item that is not a map) sits at /o/i/r or /o/i/r/ri.
 *
 * Keys are absolute from the root, not relative to the request path. The 1.2 text was not at
 * hand when this was written; Anjay's implementation shows it: its decoder refuses a path outside
 * the request's ("path_outside_base" tests) and its encoder opens the top map with the whole
 * request path as key, which is what we write too:
 *   /         {o: {i: {r: value | {ri: value}}}}      /o/i/r    {[o, i, r]: value | {ri: value}}
 *   /o        {o: {i: {r: ...}}}                       /o/i/r/ri {[o, i, r, ri]: value}
 *   /o/i      {[o, i]: {r: ...}}
 * Maps are definite-length; the decoder also reads indefinite ones.
 *
 * Values (RFC 8949 major types): integer and unsigned are major 0/1; float is binary32 when
 * exact, else binary64; boolean is true/false; string and corelnk are text strings; opaque is a
 * byte string; objlnk is the text "o:i"; time is an integer with tag 1 (epoch seconds, RFC 8949
 * 3.4.2), which Anjay Lite requires; untagged integers are accepted for time too.
 *
 * The decoder walks cborg's tokens instead of cborg.decode(): tokens keep integer and float
 * apart (1.0 and 1 are the same JS number), show tag 1, and let us bound nesting before any
 * recursion. Unknown resources decode by CBOR type: integers as integer (unsigned above 2^63-1),
 * floats as float, text as string, bytes as opaque, tag 1 as time. Not supported: null
 * (Write-Composite deletion), other tags (e.g. tag 4 decimal fractions), indefinite-length
 * strings, the LwM2M Gateway text prefixes.
 */
export const lwm2mCborCodec: TreeCodec = {
  encode: encodeLwm2mCbor,
  decode: decodeLwm2mCbor,
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

// ---- encoder ----

export function encodeLwm2mCbor(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  const content = selectTreeAtPath(tree, path);
  const out: Uint8Array[] = [];
  const segments = pathSegments(path);
  const [objectId, instanceId] = segments;
  if (content.level === 'root') {
    writeMap(out, content.objects, (object) => writeMap(out, object.instances, (instance) => writeResources(out, instance.resources, object.id, instance.id, types)));
    return concat(out);
  }
  out.push(head(5, 1));
  if (segments.length === 1) out.push(head(0, objectId!));
  else writePathArray(out, segments);
  switch (content.level) {
    case 'object':
      writeMap(out, content.object.instances, (instance) => writeResources(out, instance.resources, objectId!, instance.id, types));
      break;
    case 'instance':
      writeResources(out, content.instance.resources, objectId!, instanceId!, types);
      break;
    case 'resource':
      writeResourceBody(out, content.resource, objectId!, instanceId!, types);
      break;
    case 'resourceInstance':
      writeValue(out, content.entry.value, types(objectId!, path.resourceId!), formatPath(path));
      break;
  }
  return concat(out);
}

function writeMap<T extends { readonly id: number }>(out: Uint8Array[], nodes: readonly T[], writeBody: (node: T) => void): void {
  out.push(head(5, nodes.length));
  for (const node of nodes) {
    out.push(head(0, node.id));
    writeBody(node);
  }
}

function writeResources(out: Uint8Array[], resources: readonly ResourceNode[], objectId: number, instanceId: number, types: ResourceTypeLookup): void {
  writeMap(out, resources, (resource) => writeResourceBody(out, resource, objectId, instanceId, types));
}

function writeResourceBody(out: Uint8Array[], resource: ResourceNode, objectId: number, instanceId: number, types: ResourceTypeLookup): void {
  const field = `/${objectId}/${instanceId}/${resource.id}`;
  const declared = types(objectId, resource.id);
  if (resource.kind === 'single') writeValue(out, resource.value, declared, field);
  else writeMap(out, resource.instances, (entry) => writeValue(out, entry.value, declared, `${field}/${entry.id}`));
}

function writePathArray(out: Uint8Array[], segments: readonly number[]): void {
  out.push(head(4, segments.length));
  for (const id of segments) out.push(head(0, id));
}

function writeValue(out: Uint8Array[], value: ResourceValue, declared: ResourceType | undefined, field: string): void {
  checkDeclaredType(value, declared, field);
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return writeText(out, value.value);
    case 'objlnk':
      return writeText(out, formatObjectLink(value.value, field));
    case 'integer':
      return writeInteger(out, value.value, INTEGER_MIN, INTEGER_MAX, field);
    case 'unsigned':
      return writeInteger(out, value.value, 0n, UNSIGNED_MAX, field);
    case 'time':
      out.push(head(6, 1));
      return writeInteger(out, value.value, INTEGER_MIN, INTEGER_MAX, field);
    case 'float':
      return writeFloat(out, value.value);
    case 'boolean':
      out.push(Uint8Array.of(value.value ? 0xf5 : 0xf4));
      return;
    case 'opaque':
      out.push(head(2, value.value.length), value.value);
      return;
  }
}

function writeText(out: Uint8Array[], text: string): void {
  const bytes = utf8.encode(text);
  out.push(head(3, bytes.length), bytes);
}

function writeInteger(out: Uint8Array[], value: bigint, min: bigint, max: bigint, field: string): void {
  if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `value outside ${min}..${max}`, { field });
  out.push(value >= 0n ? head(0, value) : head(1, -1n - value));
}

function writeFloat(out: Uint8Array[], value: number): void {
  // binary32 whenever it holds the value exactly; NaN never compares equal, so it takes binary64.
  const single = Math.fround(value) === value;
  const bytes = new Uint8Array(single ? 5 : 9);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, single ? 0xfa : 0xfb);
  if (single) view.setFloat32(1, value);
  else view.setFloat64(1, value);
  out.push(bytes);
}

const ARGUMENT_SIZE_INFO: Readonly<Record<number, number>> = { 1: 24, 2: 25, 4: 26, 8: 27 };

/** An item head (RFC 8949 3.1): major type, then the argument in the fewest bytes. */
function head(major: number, argument: number | bigint): Uint8Array {
  const value = BigInt(argument);
  const size = value < 24n ? 0 : value < 0x100n ? 1 : value < 0x10000n ? 2 : value < 0x100000000n ? 4 : 8;
  const bytes = new Uint8Array(1 + size);
  // Additional information 24, 25, 26, 27: the argument follows in 1, 2, 4, 8 bytes.
  bytes[0] = (major << 5) | (size === 0 ? Number(value) : ARGUMENT_SIZE_INFO[size]!);
  for (let index = size, rest = value; index >= 1; index--, rest >>= 8n) bytes[index] = Number(rest & 0xffn);
  return bytes;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---- decoder ----

/** A leaf as CBOR wrote it, before the resource's type gives it meaning. */
type Leaf =
  | { readonly kind: 'integer'; readonly value: bigint }
  | { readonly kind: 'time'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array };

export function decodeLwm2mCbor(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
  }
  const tokens = new Tokenizer(bytes, { allowBigInt: true, allowIndefinite: true, allowUndefined: true, retainStringBytes: true });
  const next = (): { token: Token; offset: number } => {
    const offset = tokens.pos();
    if (tokens.done()) throw new CodecError('TRUNCATED', 'LwM2M CBOR payload ends inside an item', { offset });
    try {
      return { token: tokens.next(), offset };
    } catch (error) {
      throw cborError(error, offset);
    }
  };
  const records: PathValue[] = [];

  const readKey = (key: Token, offset: number, prefix: readonly number[]): number[] => {
    if (key.type.name === 'uint') return [...prefix, pathId(key, offset)];
    if (key.type.name !== 'array') {
      throw new CodecError('MALFORMED', 'a map key must be a path id or an array of path ids', { offset });
    }
    const segments = [...prefix];
    for (let index = 0; index < (key.value as number); index++) {
      const item = next();
      if (item.token.type.name === 'break' && key.value === Infinity) break;
      if (item.token.type.name !== 'uint') throw new CodecError('MALFORMED', 'a path array holds unsigned ids only', { offset: item.offset });
      if (segments.length === 4) throw new CodecError('INVALID_PATH', 'path has more than 4 ids', { offset: item.offset });
      segments.push(pathId(item.token, item.offset));
    }
    if (segments.length === prefix.length) throw new CodecError('MALFORMED', 'a path array key must not be empty', { offset });
    return segments;
  };

  const readMap = (map: Token, prefix: readonly number[], depth: number): void => {
    if (depth > DecodeLimits.maxDepth) throw new CodecError('LIMIT_EXCEEDED', `maps nest deeper than ${DecodeLimits.maxDepth}`);
    const keys = new Set<string>();
    for (let index = 0; index < (map.value as number); index++) {
      const key = next();
      if (key.token.type.name === 'break' && map.value === Infinity) return;
      const segments = readKey(key.token, key.offset, prefix);
      const field = `/${segments.join('/')}`;
      if (segments.length > 4) throw new CodecError('INVALID_PATH', 'path has more than 4 ids', { offset: key.offset, field });
      if (keys.has(field)) throw new CodecError('DUPLICATE', 'the same key twice in one map', { offset: key.offset, field });
      keys.add(field);
      const item = next();
      if (item.token.type.name === 'map') {
        readMap(item.token, segments, depth + 1);
        continue;
      }
      const leaf = readLeaf(item.token, item.offset, field);
      if (segments.length < 3) {
        throw new CodecError('INVALID_PATH', 'a value must sit at a resource or resource instance path', { offset: item.offset, field });
      }
      if (records.length >= DecodeLimits.maxValues) {
        throw new CodecError('LIMIT_EXCEEDED', `more than ${DecodeLimits.maxValues} values`, { offset: item.offset });
      }
      const value = typedValue(leaf, types(segments[0]!, segments[2]!), item.offset, field);
      records.push({ path: pathFromSegments(segments), value });
    }
  };

  const readLeaf = (token: Token, offset: number, field: string): Leaf => {
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
      case 'string': {
        // retainStringBytes keeps the raw bytes: cborg's own decoding turns bad UTF-8 into U+FFFD.
        // Its shared token for the empty string (0x60) has none.
        const raw = token.byteValue ?? (token.value === '' ? new Uint8Array(0) : undefined);
        try {
          if (raw !== undefined) return { kind: 'text', value: strictUtf8.decode(raw) };
        } catch {
          // reported below
        }
        throw new CodecError('MALFORMED', 'text string is not valid UTF-8', { offset, field });
      }
      case 'tag': {
        if (token.value !== 1) throw new CodecError('UNSUPPORTED', `CBOR tag ${String(token.value)} is not supported`, { offset, field });
        const tagged = next();
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
  };

  const root = next();
  if (root.token.type.name !== 'map') throw new CodecError('MALFORMED', 'an LwM2M CBOR payload is a map', { offset: 0 });
  readMap(root.token, [], 1);
  if (!tokens.done()) throw new CodecError('TRAILING_BYTES', 'bytes after the top-level map', { offset: tokens.pos() });
  return treeFromPathValues(records, path);
}

function pathId(token: Token, offset: number): number {
  const id = token.value as number | bigint;
  if (id >= MAX_ID) throw new CodecError('INVALID_PATH', `path ids are 0..${MAX_ID - 1}`, { offset });
  return Number(id);
}

function cborError(error: unknown, offset: number): CodecError {
  const message = error instanceof Error ? error.message : '';
  if (message.includes('not enough data')) return new CodecError('TRUNCATED', 'LwM2M CBOR payload ends inside an item', { offset });
  if (message.includes('indefinite length bytes/strings')) {
    return new CodecError('UNSUPPORTED', 'indefinite-length byte and text strings are not supported', { offset });
  }
  return new CodecError('MALFORMED', 'not a well-formed CBOR item', { offset });
}

function typedValue(leaf: Leaf, declared: ResourceType | undefined, offset: number, field: string): ResourceValue {
  const mismatch = (): CodecError =>
    new CodecError('TYPE_MISMATCH', `a CBOR ${leaf.kind} does not fit a ${declared ?? 'generic'} resource`, { offset, field });
  const ranged = (value: bigint, min: bigint, max: bigint): bigint => {
    if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `value outside ${min}..${max}`, { offset, field });
    return value;
  };
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

/** What a leaf means when the model does not know the resource. */
function genericValue(leaf: Leaf, ranged: (value: bigint, min: bigint, max: bigint) => bigint): ResourceValue {
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
