import { CodecError } from '../errors.ts';
import { formatPath, pathSegments, pathStartsWith, type LwM2MPath } from '../lwm2m/path.ts';
import type { ResourceValue } from '../lwm2m/value.ts';

/**
 * The one shape every content format decodes to and encodes from: objects, their instances,
 * resources, and resource instances, each list sorted by id. A decoder wraps what it read in
 * the levels above the request path, so `/0/1` decodes to `[{ id: 0, instances: [{ id: 1, ... }] }]`.
 */
export interface ResourceInstanceNode {
  readonly id: number;
  readonly value: ResourceValue;
}

export type ResourceNode =
  | { readonly kind: 'single'; readonly id: number; readonly value: ResourceValue }
  | { readonly kind: 'multiple'; readonly id: number; readonly instances: readonly ResourceInstanceNode[] };

export interface InstanceNode {
  readonly id: number;
  readonly resources: readonly ResourceNode[];
}

export interface ObjectNode {
  readonly id: number;
  readonly instances: readonly InstanceNode[];
}

export type ContentTree = readonly ObjectNode[];

/** One value with its full path: the flat view SenML and LwM2M-JSON records use. */
export interface PathValue {
  readonly path: LwM2MPath;
  readonly value: ResourceValue;
}

/** The flat view of a tree, in tree order. Empty instances and empty multiple resources vanish. */
export function flattenTree(tree: ContentTree): PathValue[] {
  const out: PathValue[] = [];
  for (const object of tree) {
    for (const instance of object.instances) {
      for (const resource of instance.resources) {
        if (resource.kind === 'single') {
          out.push({ path: { objectId: object.id, instanceId: instance.id, resourceId: resource.id }, value: resource.value });
        } else {
          for (const entry of resource.instances) {
            out.push({
              path: { objectId: object.id, instanceId: instance.id, resourceId: resource.id, resourceInstanceId: entry.id },
              value: entry.value,
            });
          }
        }
      }
    }
  }
  return out;
}

interface MutableResource {
  kind: 'single' | 'multiple';
  value?: ResourceValue;
  instances: Map<number, ResourceValue>;
}

/**
 * Builds a tree from flat records. Every record must name a resource or resource instance
 * under `requestPath`; the same path twice, or a resource used both as single and multiple, is
 * an error naming the path.
 */
export function treeFromPathValues(records: readonly PathValue[], requestPath: LwM2MPath): ContentTree {
  const objects = new Map<number, Map<number, Map<number, MutableResource>>>();
  for (const record of records) {
    const segments = pathSegments(record.path);
    const text = formatPath(record.path);
    if (segments.length < 3) {
      throw new CodecError('INVALID_PATH', 'a record must name a resource or resource instance', { field: text });
    }
    if (!pathStartsWith(record.path, requestPath)) {
      throw new CodecError('INVALID_PATH', `record lies outside the request path ${formatPath(requestPath)}`, { field: text });
    }
    const [objectId, instanceId, resourceId, resourceInstanceId] = segments as [number, number, number, number?];
    const instances = getOrCreate(objects, objectId, () => new Map<number, Map<number, MutableResource>>());
    const resources = getOrCreate(instances, instanceId, () => new Map<number, MutableResource>());
    const kind = resourceInstanceId === undefined ? 'single' : 'multiple';
    const resource = getOrCreate(resources, resourceId, (): MutableResource => ({ kind, instances: new Map() }));
    if (resource.kind !== kind) {
      throw new CodecError('DUPLICATE', 'resource appears both as a single value and with instances', { field: text });
    }
    if (resourceInstanceId === undefined) {
      if (resource.value !== undefined) throw new CodecError('DUPLICATE', 'resource given twice', { field: text });
      resource.value = record.value;
    } else {
      if (resource.instances.has(resourceInstanceId)) {
        throw new CodecError('DUPLICATE', 'resource instance given twice', { field: text });
      }
      resource.instances.set(resourceInstanceId, record.value);
    }
  }
  return sortedEntries(objects).map(([objectId, instances]) => ({
    id: objectId,
    instances: sortedEntries(instances).map(([instanceId, resources]) => ({
      id: instanceId,
      resources: sortedEntries(resources).map(([resourceId, resource]): ResourceNode =>
        resource.kind === 'single'
          ? { kind: 'single', id: resourceId, value: resource.value! }
          : {
              kind: 'multiple',
              id: resourceId,
              instances: sortedEntries(resource.instances).map(([id, value]) => ({ id, value })),
            },
      ),
    })),
  }));
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

function sortedEntries<V>(map: Map<number, V>): [number, V][] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The part of a tree an encoder writes for `path`, checked to lie wholly under it. Encoders of
 * nested formats (TLV, LwM2M-CBOR) start from here.
 */
export type TreeAtPath =
  | { readonly level: 'root'; readonly objects: ContentTree }
  | { readonly level: 'object'; readonly object: ObjectNode }
  | { readonly level: 'instance'; readonly instance: InstanceNode }
  | { readonly level: 'resource'; readonly resource: ResourceNode }
  | { readonly level: 'resourceInstance'; readonly entry: ResourceInstanceNode };

export function selectTreeAtPath(tree: ContentTree, path: LwM2MPath): TreeAtPath {
  const field = formatPath(path);
  const only = <T extends { id: number }>(nodes: readonly T[], id: number, what: string): T => {
    const node = nodes[0];
    if (nodes.length !== 1 || node === undefined || node.id !== id) {
      throw new CodecError('INVALID_PATH', `content must hold exactly ${what} ${id} of the request path`, { field });
    }
    return node;
  };
  if (path.objectId === undefined) return { level: 'root', objects: tree };
  const object = only(tree, path.objectId, 'object');
  if (path.instanceId === undefined) return { level: 'object', object };
  const instance = only(object.instances, path.instanceId, 'instance');
  if (path.resourceId === undefined) return { level: 'instance', instance };
  const resource = only(instance.resources, path.resourceId, 'resource');
  if (path.resourceInstanceId === undefined) return { level: 'resource', resource };
  if (resource.kind !== 'multiple') {
    throw new CodecError('INVALID_PATH', 'request path names a resource instance of a single resource', { field });
  }
  return { level: 'resourceInstance', entry: only(resource.instances, path.resourceInstanceId, 'resource instance') };
}

/** Wraps what a nested decoder read at `path` into a full tree. */
export function treeFromPathContent(path: LwM2MPath, content: TreeAtPath): ContentTree {
  switch (content.level) {
    case 'root':
      return content.objects;
    case 'object':
      return [content.object];
    case 'instance':
      return [{ id: path.objectId!, instances: [content.instance] }];
    case 'resource':
      return [{ id: path.objectId!, instances: [{ id: path.instanceId!, resources: [content.resource] }] }];
    case 'resourceInstance':
      return [
        {
          id: path.objectId!,
          instances: [
            {
              id: path.instanceId!,
              resources: [{ kind: 'multiple', id: path.resourceId!, instances: [content.entry] }],
            },
          ],
        },
      ];
  }
}

