import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { formatPath, MAX_ID, pathFromSegments, pathSegments, type LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { cborTokenizer, type BoundedTokenizer, type CborItem } from './cbor-decode.ts';
import { CborWriter } from './cbor-encode.ts';
import { cborLeafValue, readCborLeaf, writeCborValue } from './cbor-value.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { selectTreeAtPath, treeFromPathValues, type ContentTree, type PathValue, type ResourceNode } from './tree.ts';

/**
 * LwM2M CBOR (content format 11544, application/vnd.oma.lwm2m+cbor, LwM2M 1.2 Core 7.4.6):
 * nested CBOR maps that follow the object tree. A map key is one path id (unsigned integer) or
 * an array of consecutive ids, so `{[1, 0]: {0: 101, 1: 300}}` and `{1: {0: {0: 101, 1: 300}}}`
 * are the same instance. A value (any item that is not a map) sits at /o/i/r or /o/i/r/ri, and
 * is written as cbor-value.ts describes.
 *
 * Keys are absolute from the root, not relative to the request path. The 1.2 text was not at
 * hand when this was written; Anjay's implementation shows it: its decoder refuses a path outside
 * the request's ("path_outside_base" tests) and its encoder opens the top map with the whole
 * request path as key, which is what we write too:
 *   /         {o: {i: {r: value | {ri: value}}}}      /o/i/r    {[o, i, r]: value | {ri: value}}
 *   /o        {o: {i: {r: ...}}}                       /o/i/r/ri {[o, i, r, ri]: value}
 *   /o/i      {[o, i]: {r: ...}}
 * Maps are definite-length; the decoder also reads indefinite ones. Not supported: the LwM2M
 * Gateway text prefixes.
 */
export const lwm2mCborCodec: TreeCodec = {
  encode: encodeLwm2mCbor,
  decode: decodeLwm2mCbor,
};

// ---- encoder ----

export function encodeLwm2mCbor(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  const content = selectTreeAtPath(tree, path);
  const out = new CborWriter();
  const segments = pathSegments(path);
  const [objectId, instanceId] = segments;
  if (content.level === 'root') {
    writeMap(out, content.objects, (object) => writeMap(out, object.instances, (instance) => writeResources(out, instance.resources, object.id, instance.id, types)));
    return out.finish();
  }
  out.map(1);
  if (segments.length === 1) out.head(0, objectId!);
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
      writeCborValue(out, content.entry.value, types(objectId!, path.resourceId!), formatPath(path));
      break;
  }
  return out.finish();
}

function writeMap<T extends { readonly id: number }>(out: CborWriter, nodes: readonly T[], writeBody: (node: T) => void): void {
  out.map(nodes.length);
  for (const node of nodes) {
    out.head(0, node.id);
    writeBody(node);
  }
}

function writeResources(out: CborWriter, resources: readonly ResourceNode[], objectId: number, instanceId: number, types: ResourceTypeLookup): void {
  writeMap(out, resources, (resource) => writeResourceBody(out, resource, objectId, instanceId, types));
}

function writeResourceBody(out: CborWriter, resource: ResourceNode, objectId: number, instanceId: number, types: ResourceTypeLookup): void {
  const field = `/${objectId}/${instanceId}/${resource.id}`;
  const declared = types(objectId, resource.id);
  if (resource.kind === 'single') writeCborValue(out, resource.value, declared, field);
  else writeMap(out, resource.instances, (entry) => writeCborValue(out, entry.value, declared, `${field}/${entry.id}`));
}

function writePathArray(out: CborWriter, segments: readonly number[]): void {
  out.array(segments.length);
  for (const id of segments) out.head(0, id);
}

// ---- decoder ----

export function decodeLwm2mCbor(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
  }
  // The tokenizer bounds the nesting of maps and path arrays at DecodeLimits.maxDepth.
  const tokens = cborTokenizer(bytes);
  const records: PathValue[] = [];

  const readMap = (map: CborItem, prefix: readonly number[]): void => {
    const keys = new Set<string>();
    for (let index = 0; index < (map.token.value as number); index++) {
      const key = tokens.read();
      if (key.token.type.name === 'break' && map.token.value === Infinity) return;
      const segments = readKey(tokens, key, prefix);
      const field = `/${segments.join('/')}`;
      if (segments.length > 4) throw new CodecError('INVALID_PATH', 'path has more than 4 ids', { offset: key.offset, field });
      if (keys.has(field)) throw new CodecError('DUPLICATE', 'the same key twice in one map', { offset: key.offset, field });
      keys.add(field);
      const item = tokens.read();
      if (item.token.type.name === 'map') {
        readMap(item, segments);
        continue;
      }
      const leaf = readCborLeaf(tokens, item, field);
      if (segments.length < 3) {
        throw new CodecError('INVALID_PATH', 'a value must sit at a resource or resource instance path', { offset: item.offset, field });
      }
      if (records.length >= DecodeLimits.maxValues) {
        throw new CodecError('LIMIT_EXCEEDED', `more than ${DecodeLimits.maxValues} values`, { offset: item.offset });
      }
      const value = cborLeafValue(leaf, types(segments[0]!, segments[2]!), item.offset, field);
      records.push({ path: pathFromSegments(segments), value });
    }
  };

  const root = tokens.read();
  if (root.token.type.name !== 'map') throw new CodecError('MALFORMED', 'an LwM2M CBOR payload is a map', { offset: 0 });
  readMap(root, []);
  if (!tokens.done()) throw new CodecError('TRAILING_BYTES', 'bytes after the top-level map', { offset: tokens.pos() });
  return treeFromPathValues(records, path);
}

/** A map key: one path id, or an array of them, appended to the ids of the enclosing maps. */
function readKey(tokens: BoundedTokenizer, { token, offset }: CborItem, prefix: readonly number[]): number[] {
  if (token.type.name === 'uint') return [...prefix, pathId(token.value as number | bigint, offset)];
  if (token.type.name !== 'array') {
    throw new CodecError('MALFORMED', 'a map key must be a path id or an array of path ids', { offset });
  }
  const segments = [...prefix];
  for (let index = 0; index < (token.value as number); index++) {
    const item = tokens.read();
    if (item.token.type.name === 'break' && token.value === Infinity) break;
    if (item.token.type.name !== 'uint') throw new CodecError('MALFORMED', 'a path array holds unsigned ids only', { offset: item.offset });
    if (segments.length === 4) throw new CodecError('INVALID_PATH', 'path has more than 4 ids', { offset: item.offset });
    segments.push(pathId(item.token.value as number | bigint, item.offset));
  }
  if (segments.length === prefix.length) throw new CodecError('MALFORMED', 'a path array key must not be empty', { offset });
  return segments;
}

function pathId(id: number | bigint, offset: number): number {
  if (id >= MAX_ID) throw new CodecError('INVALID_PATH', `path ids are 0..${MAX_ID - 1}`, { offset });
  return Number(id);
}
