import { parseLinkDocument, serializeLinkFormat, type LinkAttribute, type LinkEntry, type LinkFormatLimits } from '../content/link-format.ts';
import { CodecError } from '../errors.ts';
import { MAX_ID } from './path.ts';

/**
 * What a Bootstrap-Discover answer says (LwM2M Core 1.1 §5.2.7.3 "Bootstrap-Discover
 * Operation"; same text in 1.2): the client's enabler version on `</>`, each object with its
 * `ver`, and each instance; Security (0) instances carry `ssid` and `uri`, Server (1) and
 * OSCORE (21) instances carry `ssid`. The Bootstrap-Server Security instance has no `ssid`
 * ("none is defined") and may omit `uri`. Attributes LwM2M does not define here are ignored.
 */
export interface DiscoveredInstance {
  readonly instanceId: number;
  readonly ssid?: number;
  readonly uri?: string;
}

export interface DiscoveredObject {
  readonly objectId: number;
  readonly version?: string;
  readonly instances: readonly DiscoveredInstance[];
}

export interface BootstrapDiscoverResult {
  /** Absent when the client did not say (some LwM2M 1.0 clients). */
  readonly lwm2mVersion?: string;
  /** Sorted by object id, instances sorted by instance id. */
  readonly objects: readonly DiscoveredObject[];
}

const SECURITY_OBJECT_ID = 0;
const OSCORE_OBJECT_ID = 21;

// `</>`, `</o>`, `</o/i>`, each with an optional trailing slash: the spec's examples write
// `</0/1/>` and `</1/0/>`.
const TARGET = /^\/(?:(0|[1-9][0-9]{0,4})(?:\/(0|[1-9][0-9]{0,4}))?\/?)?$/;
const ENABLER_VERSION = /^[0-9]{1,3}\.[0-9]{1,3}(?:\.[0-9]{1,3})?$/;
const OBJECT_VERSION = /^[0-9]{1,3}\.[0-9]{1,3}$/;
const SSID = /^(0|[1-9][0-9]{0,5})$/;

interface ObjectBuilder {
  declared: boolean;
  version?: string;
  readonly instances: Map<number, DiscoveredInstance>;
}

/**
 * Parses a Bootstrap-Discover payload (content format 40). Accepts the LwM2M 1.0 form whose
 * `lwm2m="1.0"` has no `</>` target, which Core 1.2 says servers MAY accept.
 */
export function parseBootstrapDiscover(bytes: Uint8Array, limits?: Partial<LinkFormatLimits>): BootstrapDiscoverResult {
  const document = parseLinkDocument(bytes, { allowPreamble: true, ...(limits === undefined ? {} : { limits }) });
  let lwm2mVersion = enablerVersion(document.preamble, 0);
  let rootSeen = false;
  const objects = new Map<number, ObjectBuilder>();
  for (const { entry, offset } of document.entries) {
    const [objectId, instanceId] = targetIds(entry.target, offset);
    if (objectId === undefined) {
      if (rootSeen) throw new CodecError('DUPLICATE', 'the root link </> appears twice', { offset, field: '/' });
      rootSeen = true;
      const version = enablerVersion(entry.attributes, offset);
      if (version !== undefined && lwm2mVersion !== undefined) {
        throw new CodecError('DUPLICATE', 'the enabler version is given twice', { offset, field: 'lwm2m' });
      }
      lwm2mVersion ??= version;
      continue;
    }
    let object = objects.get(objectId);
    if (object === undefined) {
      object = { declared: false, instances: new Map() };
      objects.set(objectId, object);
    }
    if (instanceId === undefined) {
      if (object.declared) throw new CodecError('DUPLICATE', 'an object link appears twice', { offset, field: `/${objectId}` });
      object.declared = true;
      const version = single(entry.attributes, 'ver', offset);
      if (version !== undefined) {
        if (!OBJECT_VERSION.test(version)) throw new CodecError('MALFORMED', 'ver must be MAJOR.MINOR', { offset, field: 'ver' });
        object.version = version;
      }
      continue;
    }
    if (object.instances.has(instanceId)) {
      throw new CodecError('DUPLICATE', 'an instance link appears twice', { offset, field: `/${objectId}/${instanceId}` });
    }
    object.instances.set(instanceId, discoveredInstance(instanceId, entry, offset));
  }
  return {
    ...(lwm2mVersion === undefined ? {} : { lwm2mVersion }),
    objects: [...objects.entries()]
      .sort(([a], [b]) => a - b)
      .map(([objectId, object]) => ({
        objectId,
        ...(object.version === undefined ? {} : { version: object.version }),
        instances: [...object.instances.values()].sort((a, b) => a.instanceId - b.instanceId),
      })),
  };
}

function targetIds(target: string, offset: number): [number?, number?] {
  const match = TARGET.exec(target);
  if (match === null) {
    throw new CodecError('INVALID_PATH', 'a Bootstrap-Discover link must target /, /object or /object/instance', { offset });
  }
  const ids = [match[1], match[2]].filter((id) => id !== undefined).map(Number);
  if (ids.some((id) => id >= MAX_ID)) throw new CodecError('INVALID_PATH', `ids in a link target must be below ${MAX_ID}`, { offset });
  return [ids[0], ids[1]];
}

function discoveredInstance(instanceId: number, entry: LinkEntry, offset: number): DiscoveredInstance {
  const ssidText = single(entry.attributes, 'ssid', offset);
  const uri = single(entry.attributes, 'uri', offset);
  let ssid: number | undefined;
  if (ssidText !== undefined) {
    if (!SSID.test(ssidText)) throw new CodecError('MALFORMED', 'ssid must be a decimal integer', { offset, field: 'ssid' });
    ssid = Number(ssidText);
    // Short Server ID 0 and MAX_ID 65535 are reserved (Core 1.1 Appendix E.1, resource 0/x/10: 1-65534).
    if (ssid < 1 || ssid >= MAX_ID) throw new CodecError('OUT_OF_RANGE', `ssid must be 1..${MAX_ID - 1}`, { offset, field: 'ssid' });
  }
  return { instanceId, ...(ssid === undefined ? {} : { ssid }), ...(uri === undefined ? {} : { uri }) };
}

function enablerVersion(attributes: readonly LinkAttribute[], offset: number): string | undefined {
  const version = single(attributes, 'lwm2m', offset);
  if (version !== undefined && !ENABLER_VERSION.test(version)) {
    throw new CodecError('MALFORMED', 'lwm2m must be MAJOR.MINOR', { offset, field: 'lwm2m' });
  }
  return version;
}

/** The value of an attribute LwM2M defines at most once per link; names compare case-insensitively. */
function single(attributes: readonly LinkAttribute[], name: string, offset: number): string | undefined {
  const found = attributes.filter((attribute) => attribute.name.toLowerCase() === name);
  if (found.length > 1) throw new CodecError('DUPLICATE', `attribute ${name} appears twice on one link`, { offset, field: name });
  const attribute = found[0];
  if (attribute === undefined) return undefined;
  if (attribute.value === null) throw new CodecError('MALFORMED', `attribute ${name} needs a value`, { offset, field: name });
  return attribute.value;
}

/**
 * The Security instance that holds the Bootstrap-Server account: the one without `ssid`.
 * Bootstrap-Delete never affects that account (Core 1.1 §5.2.7.5), so the engine must never
 * target it. A client has one such account, so an answer with several instances lacking `ssid`
 * (older clients list every instance bare) does not say which it is: the result is then empty,
 * which callers treat as "unknown" and leave protection to the client. Only meaningful when the
 * Discover covered object 0 (`/` or `/0`).
 */
export function bootstrapServerInstanceIds(result: BootstrapDiscoverResult): number[] {
  return soleInstanceWithoutSsid(result, SECURITY_OBJECT_ID);
}

/**
 * The OSCORE instance without `ssid`: the one tied to the Bootstrap-Server, which
 * Bootstrap-Delete also leaves alone (Core 1.2, Bootstrap-Discover and Bootstrap-Delete
 * operations). Empty when the Security answer was ambiguous or several OSCORE instances lack `ssid`.
 */
export function bootstrapOscoreInstanceIds(result: BootstrapDiscoverResult): number[] {
  if (bootstrapServerInstanceIds(result).length === 0) return [];
  return soleInstanceWithoutSsid(result, OSCORE_OBJECT_ID);
}

function soleInstanceWithoutSsid(result: BootstrapDiscoverResult, objectId: number): number[] {
  const object = result.objects.find((candidate) => candidate.objectId === objectId);
  const bare = (object?.instances ?? []).filter((instance) => instance.ssid === undefined).map((instance) => instance.instanceId);
  return bare.length === 1 ? bare : [];
}

export interface BootstrapDiscoverEncodeOptions {
  /** Write `lwm2m="1.0",` with no `</>` target, as LwM2M 1.0 clients did. */
  readonly legacyEnablerVersion?: boolean;
}

/**
 * The answer a simulated client sends: `</>;lwm2m=V`, then per object `</o>` (when it has a
 * version or no instances) and `</o/i>;ssid=N;uri="..."`. Unquoted tokens and the quoted uri
 * follow the Core 1.1/1.2 examples.
 */
export function encodeBootstrapDiscover(result: BootstrapDiscoverResult, options: BootstrapDiscoverEncodeOptions = {}): Uint8Array {
  const entries: LinkEntry[] = [];
  const preamble: LinkAttribute[] = [];
  if (result.lwm2mVersion !== undefined) {
    if (!ENABLER_VERSION.test(result.lwm2mVersion)) throw new CodecError('MALFORMED', 'lwm2m must be MAJOR.MINOR', { field: 'lwm2m' });
    const attribute = { name: 'lwm2m', value: result.lwm2mVersion };
    if (options.legacyEnablerVersion === true) preamble.push(attribute);
    else entries.push({ target: '/', attributes: [attribute] });
  }
  const objectIds = new Set<number>();
  for (const object of result.objects) {
    checkId(object.objectId, `/${object.objectId}`);
    if (objectIds.has(object.objectId)) throw new CodecError('DUPLICATE', 'object listed twice', { field: `/${object.objectId}` });
    objectIds.add(object.objectId);
    if (object.version !== undefined && !OBJECT_VERSION.test(object.version)) {
      throw new CodecError('MALFORMED', 'ver must be MAJOR.MINOR', { field: `/${object.objectId}` });
    }
    if (object.version !== undefined || object.instances.length === 0) {
      entries.push({ target: `/${object.objectId}`, attributes: object.version === undefined ? [] : [{ name: 'ver', value: object.version }] });
    }
    const instanceIds = new Set<number>();
    for (const instance of object.instances) {
      const path = `/${object.objectId}/${instance.instanceId}`;
      checkId(instance.instanceId, path);
      if (instanceIds.has(instance.instanceId)) throw new CodecError('DUPLICATE', 'instance listed twice', { field: path });
      instanceIds.add(instance.instanceId);
      entries.push({ target: path, attributes: instanceAttributes(instance, path) });
    }
  }
  const text = serializeLinkFormat(entries, {
    quoted: new Set(['uri', ...(options.legacyEnablerVersion === true ? ['lwm2m'] : [])]),
    preamble,
  });
  return new TextEncoder().encode(text);
}

function instanceAttributes(instance: DiscoveredInstance, path: string): LinkAttribute[] {
  const attributes: LinkAttribute[] = [];
  if (instance.ssid !== undefined) {
    if (!Number.isInteger(instance.ssid) || instance.ssid < 1 || instance.ssid >= MAX_ID) {
      throw new CodecError('OUT_OF_RANGE', `ssid must be 1..${MAX_ID - 1}`, { field: `${path} ssid` });
    }
    attributes.push({ name: 'ssid', value: String(instance.ssid) });
  }
  if (instance.uri !== undefined) attributes.push({ name: 'uri', value: instance.uri });
  return attributes;
}

function checkId(id: number, field: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) throw new CodecError('INVALID_PATH', `ids must be 0..${MAX_ID - 1}`, { field });
}
