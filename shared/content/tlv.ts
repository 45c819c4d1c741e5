import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { formatPath, pathLevel, type LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import type { ResourceValue } from '../lwm2m/value.ts';
import { concatBytes } from './bytes.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { readTlvEntries, readTlvEntry, TLV_KIND_NAMES, writeTlvEntry, type TlvEntry, type TlvKind } from './tlv-header.ts';
import { decodeTlvValue, encodeTlvValue } from './tlv-value.ts';
import {
  selectTreeAtPath,
  treeFromPathContent,
  type ContentTree,
  type InstanceNode,
  type ResourceInstanceNode,
  type ResourceNode,
} from './tree.ts';

/**
 * OMA LwM2M TLV (content format 11542, and 1542 before registration), LwM2M Core 7.4.3.
 *
 * TLV ids are relative to the request path, so what the payload may hold depends on its level:
 *   /o        Object Instance TLVs only. The spec requires them "when the Object Instance ID is
 *             not specified in the request, ... whatever the number of Object Instances", so bare
 *             Resource TLVs at /o are rejected rather than guessed to be instance 0.
 *   /o/i      Resource and Multiple Resource TLVs, optionally inside one Object Instance TLV i
 *             ("When the Object Instance ID is specified in the request, the Object Instance TLV
 *             is optional"). The encoder leaves that wrapper out.
 *   /o/i/r    one Resource TLV r, one Multiple Resource TLV r, or bare Resource Instance TLVs.
 *             The encoder writes a Multiple Resource TLV for multiple resources, as the spec
 *             requires "whatever the number of Instances".
 *   /o/i/r/ri one Resource Instance TLV ri.
 *   /         has no TLV form: UNSUPPORTED.
 *
 * The nesting is at most Object Instance > Multiple Resource > Resource Instance; anything
 * nested otherwise is MALFORMED, which also bounds the depth. Value types come from `types`
 * (see tlv-value.ts); unknown resources decode as opaque.
 */

export function encodeTlv(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  const level = pathLevel(path);
  if (level === 'root') throw new CodecError('UNSUPPORTED', 'TLV cannot carry a payload for the root path', { field: '/' });
  const content = selectTreeAtPath(tree, path);
  const objectId = path.objectId!;
  switch (content.level) {
    case 'root':
      throw new CodecError('UNSUPPORTED', 'TLV cannot carry a payload for the root path', { field: '/' });
    case 'object':
      return concatBytes(
        content.object.instances.map((instance) =>
          writeTlvEntry('objectInstance', instance.id, encodeResources(instance, objectId, types), `/${objectId}/${instance.id}`),
        ),
      );
    case 'instance':
      return encodeResources(content.instance, objectId, types);
    case 'resource':
      return encodeResource(content.resource, objectId, path.instanceId!, types);
    case 'resourceInstance': {
      const field = formatPath(path);
      const value = encodeTlvValue(content.entry.value, types(objectId, path.resourceId!), field);
      return writeTlvEntry('resourceInstance', content.entry.id, value, field);
    }
  }
}

function encodeResources(instance: InstanceNode, objectId: number, types: ResourceTypeLookup): Uint8Array {
  return concatBytes(instance.resources.map((resource) => encodeResource(resource, objectId, instance.id, types)));
}

function encodeResource(resource: ResourceNode, objectId: number, instanceId: number, types: ResourceTypeLookup): Uint8Array {
  const field = `/${objectId}/${instanceId}/${resource.id}`;
  const declared = types(objectId, resource.id);
  if (resource.kind === 'single') {
    return writeTlvEntry('resource', resource.id, encodeTlvValue(resource.value, declared, field), field);
  }
  const entries = resource.instances.map((entry) => {
    const entryField = `${field}/${entry.id}`;
    return writeTlvEntry('resourceInstance', entry.id, encodeTlvValue(entry.value, declared, entryField), entryField);
  });
  return writeTlvEntry('multipleResource', resource.id, concatBytes(entries), field);
}

export function decodeTlv(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  const level = pathLevel(path);
  if (level === 'root') throw new CodecError('UNSUPPORTED', 'TLV cannot carry a payload for the root path', { field: '/' });
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
  }
  const reader = new TlvTreeReader(bytes, path.objectId!, types);
  switch (level) {
    case 'object':
      return treeFromPathContent(path, { level, object: { id: path.objectId!, instances: reader.objectInstances() } });
    case 'instance':
      return treeFromPathContent(path, { level, instance: reader.instanceAtPath(path.instanceId!) });
    case 'resource':
      return treeFromPathContent(path, { level, resource: reader.resourceAtPath(path.instanceId!, path.resourceId!) });
    case 'resourceInstance':
      return treeFromPathContent(path, {
        level,
        entry: reader.resourceInstanceAtPath(path.instanceId!, path.resourceId!, path.resourceInstanceId!),
      });
  }
}

class TlvTreeReader {
  private readonly bytes: Uint8Array;
  private readonly objectId: number;
  private readonly types: ResourceTypeLookup;
  private valueCount = 0;

  constructor(bytes: Uint8Array, objectId: number, types: ResourceTypeLookup) {
    this.bytes = bytes;
    this.objectId = objectId;
    this.types = types;
  }

  objectInstances(): InstanceNode[] {
    const entries = readTlvEntries(this.bytes);
    for (const entry of entries) this.expectKind(entry, 'objectInstance', `/${this.objectId}`);
    checkUnique(entries, (id) => `/${this.objectId}/${id}`, 'Object Instance');
    return sortById(entries.map((entry) => this.instance(entry.id, readTlvEntries(this.bytes, entry))));
  }

  instanceAtPath(instanceId: number): InstanceNode {
    const entries = readTlvEntries(this.bytes);
    const first = entries[0];
    if (first?.kind !== 'objectInstance') return this.instance(instanceId, entries);
    checkUnique(entries, (id) => `/${this.objectId}/${id}`, 'Object Instance');
    const second = entries[1];
    if (second !== undefined) {
      throw new CodecError('MALFORMED', `a payload for /${this.objectId}/${instanceId} holds one Object Instance TLV at most`, {
        offset: second.offset,
      });
    }
    this.expectId(first, instanceId, `/${this.objectId}/${instanceId}`);
    return this.instance(instanceId, readTlvEntries(this.bytes, first));
  }

  resourceAtPath(instanceId: number, resourceId: number): ResourceNode {
    const field = `/${this.objectId}/${instanceId}/${resourceId}`;
    const first = readTlvEntry(this.bytes, 0);
    if (first.kind === 'resourceInstance') {
      const entries = readTlvEntries(this.bytes);
      return { kind: 'multiple', id: resourceId, instances: this.resourceInstances(entries, resourceId, field) };
    }
    if (first.kind === 'objectInstance') throw wrongKind(first, 'resource', field);
    this.expectId(first, resourceId, field);
    this.expectEnd(first);
    return this.resource(first, instanceId);
  }

  resourceInstanceAtPath(instanceId: number, resourceId: number, resourceInstanceId: number): ResourceInstanceNode {
    const field = `/${this.objectId}/${instanceId}/${resourceId}/${resourceInstanceId}`;
    const entry = readTlvEntry(this.bytes, 0);
    this.expectKind(entry, 'resourceInstance', field);
    this.expectId(entry, resourceInstanceId, field);
    this.expectEnd(entry);
    return { id: resourceInstanceId, value: this.value(entry, resourceId, field) };
  }

  private instance(instanceId: number, entries: readonly TlvEntry[]): InstanceNode {
    const field = `/${this.objectId}/${instanceId}`;
    for (const entry of entries) {
      if (entry.kind !== 'resource' && entry.kind !== 'multipleResource') throw wrongKind(entry, 'resource', field);
    }
    checkUnique(entries, (id) => `${field}/${id}`, 'Resource');
    return { id: instanceId, resources: sortById(entries.map((entry) => this.resource(entry, instanceId))) };
  }

  private resource(entry: TlvEntry, instanceId: number): ResourceNode {
    const field = `/${this.objectId}/${instanceId}/${entry.id}`;
    if (entry.kind === 'resource') return { kind: 'single', id: entry.id, value: this.value(entry, entry.id, field) };
    const children = readTlvEntries(this.bytes, entry);
    return { kind: 'multiple', id: entry.id, instances: this.resourceInstances(children, entry.id, field) };
  }

  private resourceInstances(entries: readonly TlvEntry[], resourceId: number, resourceField: string): ResourceInstanceNode[] {
    for (const entry of entries) this.expectKind(entry, 'resourceInstance', resourceField);
    checkUnique(entries, (id) => `${resourceField}/${id}`, 'Resource Instance');
    return sortById(entries.map((entry) => ({ id: entry.id, value: this.value(entry, resourceId, `${resourceField}/${entry.id}`) })));
  }

  private value(entry: TlvEntry, resourceId: number, field: string): ResourceValue {
    this.valueCount += 1;
    if (this.valueCount > DecodeLimits.maxValues) {
      throw new CodecError('LIMIT_EXCEEDED', `payload holds more than ${DecodeLimits.maxValues} values`, { offset: entry.offset });
    }
    const bytes = this.bytes.subarray(entry.valueStart, entry.valueEnd);
    return decodeTlvValue(bytes, this.types(this.objectId, resourceId), field, entry.valueStart);
  }

  private expectKind(entry: TlvEntry, kind: TlvKind, field: string): void {
    if (entry.kind !== kind) throw wrongKind(entry, kind, field);
  }

  private expectId(entry: TlvEntry, id: number, field: string): void {
    if (entry.id !== id) {
      throw new CodecError('INVALID_PATH', `${TLV_KIND_NAMES[entry.kind]} TLV has id ${entry.id}, the request path says ${id}`, {
        offset: entry.offset,
        field,
      });
    }
  }

  private expectEnd(entry: TlvEntry): void {
    if (entry.valueEnd < this.bytes.length) {
      throw new CodecError('TRAILING_BYTES', `${this.bytes.length - entry.valueEnd} bytes follow the only TLV the request path allows`, {
        offset: entry.valueEnd,
      });
    }
  }
}

function wrongKind(entry: TlvEntry, expected: TlvKind, field: string): CodecError {
  return new CodecError('MALFORMED', `${TLV_KIND_NAMES[entry.kind]} TLV is not allowed here; expected ${TLV_KIND_NAMES[expected]}`, {
    offset: entry.offset,
    field,
  });
}

function checkUnique(entries: readonly TlvEntry[], field: (id: number) => string, what: string): void {
  const seen = new Set<number>();
  for (const entry of entries) {
    if (seen.has(entry.id)) throw new CodecError('DUPLICATE', `${what} ${entry.id} given twice`, { offset: entry.offset, field: field(entry.id) });
    seen.add(entry.id);
  }
}

function sortById<T extends { readonly id: number }>(nodes: T[]): T[] {
  return nodes.sort((a, b) => a.id - b.id);
}

export const tlvCodec: TreeCodec = { encode: encodeTlv, decode: decodeTlv };
