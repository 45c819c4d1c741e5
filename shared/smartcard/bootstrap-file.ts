import type { BootstrapPlan } from '../bootstrap/plan.ts';
import { concatBytes } from '../content/bytes.ts';
import { ContentFormat } from '../content/format.ts';
import { treeFromJsonView } from '../content/json-view.ts';
import { decodeContent, encodeContent } from '../content/registry.ts';
import { flattenTree, treeFromPathValues, type InstanceNode, type ObjectNode } from '../content/tree.ts';
import { CodecError, isCodecError } from '../errors.ts';
import { factoryInstances } from '../factory/factory-instances.ts';
import { SecurityResource } from '../lwm2m/objects/security.ts';
import { ServerResource } from '../lwm2m/objects/server.ts';
import { parsePath, ROOT_PATH } from '../lwm2m/path.ts';
import type { ObjectLink, ResourceValue } from '../lwm2m/value.ts';

/**
 * EF LwM2M_Bootstrap, LwM2M Core 1.1 Appendix G.3.3 (omadm/omaoriginal TS_Core/Appendix_G.md;
 * G.3.4 in 1.1.1). Big-endian throughout:
 *
 *   <bootstrap_data>      ::= <number of objects: HWORD> <size: HWORD> <single_lwm2m_object>*
 *   <single_lwm2m_object> ::= <object ID: HWORD> <object_version> <length_of_object: HWORD>
 *                             <object instances as LwM2M TLV, Core §7.4.3>  (G.3.3 cites §6.4.3, the 1.0 number)
 *   <object_version>      ::= %x00 (IMPLICIT_VERSION: 1.0, or an object the enabler defines)
 *                           | MAJOR (%x01-FF) MINOR (%x00-FF)   ; %x0205 is version 2.5
 *
 * `size` counts the objects after the 4-byte header. The file is at most 32 KB (G.3.3). The
 * appendix is silent on bytes past `size`; a binary EF is as long as the issuer made it and
 * cards fill the rest with 0xFF (some with 0x00), so a run of one filler byte is accepted and
 * anything else is TRAILING_BYTES. It is silent on order and repeats too: we write objects by
 * ascending id, and reject an object id given twice (a client would have to guess how to merge).
 */

/** G.3.3: "This file size is limited to 32KB". */
export const MAX_BOOTSTRAP_FILE_BYTES = 32 * 1024;
const HEADER_BYTES = 4;
const HWORD_MAX = 0xffff;

export type ObjectVersion = 'implicit' | { readonly major: number; readonly minor: number };

/** One object as the EF frames it. */
export interface BootstrapDataObject {
  readonly version: ObjectVersion;
  readonly object: ObjectNode;
}

// ---------------------------------------------------------------------------------------------
// Framing

export function encodeBootstrapData(objects: readonly BootstrapDataObject[]): Uint8Array {
  const blocks = objects.map(({ version, object }) => {
    const field = `/${object.id}`;
    const payload = encodeContent(ContentFormat.TLV, [object], { objectId: object.id });
    if (payload.length > HWORD_MAX) throw new CodecError('LIMIT_EXCEEDED', `object of ${payload.length} bytes exceeds the HWORD length`, { field });
    return concatBytes([hword(object.id), versionBytes(version, field), hword(payload.length), payload]);
  });
  const body = concatBytes(blocks);
  const bytes = concatBytes([hword(objects.length), hword(Math.min(body.length, HWORD_MAX)), body]);
  if (body.length > HWORD_MAX || bytes.length > MAX_BOOTSTRAP_FILE_BYTES) {
    throw new CodecError('LIMIT_EXCEEDED', `bootstrap data of ${bytes.length} bytes exceeds the ${MAX_BOOTSTRAP_FILE_BYTES}-byte EF`);
  }
  return bytes;
}

export function decodeBootstrapData(bytes: Uint8Array): BootstrapDataObject[] {
  if (bytes.length > MAX_BOOTSTRAP_FILE_BYTES) {
    throw new CodecError('LIMIT_EXCEEDED', `file of ${bytes.length} bytes exceeds the ${MAX_BOOTSTRAP_FILE_BYTES}-byte EF`);
  }
  const reader = new Reader(bytes, bytes.length);
  const count = reader.hword('number of objects');
  const size = reader.hword('size');
  const end = HEADER_BYTES + size;
  if (end > bytes.length) {
    throw new CodecError('TRUNCATED', `size announces ${size} bytes of objects, ${bytes.length - HEADER_BYTES} follow`, { offset: 2, field: 'size' });
  }
  expectFiller(bytes, end);
  const body = new Reader(bytes, end, HEADER_BYTES);
  const objects: BootstrapDataObject[] = [];
  const seen = new Set<number>();
  while (body.offset < end) {
    const start = body.offset;
    const objectId = body.hword('lwm2m_object_ID');
    const field = `/${objectId}`;
    if (seen.has(objectId)) throw new CodecError('DUPLICATE', `object ${objectId} given twice`, { offset: start, field });
    seen.add(objectId);
    const major = body.byte('object_version');
    const version: ObjectVersion = major === 0 ? 'implicit' : { major, minor: body.byte('object_version') };
    const length = body.hword('length_of_object');
    const payloadStart = body.offset;
    const payload = body.take(length, field);
    objects.push({ version, object: decodeObject(objectId, payload, payloadStart) });
  }
  if (objects.length !== count) {
    throw new CodecError('MALFORMED', `header says ${count} objects, size holds ${objects.length}`, { offset: 0, field: 'number of objects' });
  }
  return objects;
}

function decodeObject(objectId: number, payload: Uint8Array, base: number): ObjectNode {
  try {
    const [object] = decodeContent(ContentFormat.TLV, payload, { objectId });
    return object ?? { id: objectId, instances: [] };
  } catch (error) {
    if (!isCodecError(error)) throw error;
    // TLV offsets count from the object's payload; report them in the file.
    const suffix = [error.offset === undefined ? undefined : `at offset ${error.offset}`, error.field === undefined ? undefined : `in ${error.field}`]
      .filter((part) => part !== undefined)
      .join(', ');
    const message = suffix.length > 0 && error.message.endsWith(` (${suffix})`) ? error.message.slice(0, -suffix.length - 3) : error.message;
    throw new CodecError(error.code, message, {
      ...(error.offset !== undefined && { offset: base + error.offset }),
      field: error.field ?? `/${objectId}`,
    });
  }
}

function expectFiller(bytes: Uint8Array, from: number): void {
  const filler = bytes[from];
  for (let index = from; index < bytes.length; index += 1) {
    if (bytes[index] !== filler || (filler !== 0xff && filler !== 0x00)) {
      throw new CodecError('TRAILING_BYTES', `${bytes.length - from} bytes follow the announced size and are not filler`, { offset: index });
    }
  }
}

class Reader {
  offset: number;
  private readonly bytes: Uint8Array;
  private readonly end: number;

  constructor(bytes: Uint8Array, end: number, offset = 0) {
    this.bytes = bytes;
    this.end = end;
    this.offset = offset;
  }

  byte(field: string): number {
    if (this.offset >= this.end) throw new CodecError('TRUNCATED', `${field} is cut short`, { offset: this.offset, field });
    return this.bytes[this.offset++]!;
  }

  hword(field: string): number {
    return this.byte(field) * 256 + this.byte(field);
  }

  take(length: number, field: string): Uint8Array {
    if (this.offset + length > this.end) {
      throw new CodecError('TRUNCATED', `object announces ${length} bytes, ${this.end - this.offset} remain within size`, { offset: this.offset, field });
    }
    this.offset += length;
    return this.bytes.subarray(this.offset - length, this.offset);
  }
}

function hword(value: number): Uint8Array {
  return Uint8Array.of(value >> 8, value & 0xff);
}

function versionBytes(version: ObjectVersion, field: string): Uint8Array {
  if (version === 'implicit') return Uint8Array.of(0);
  const { major, minor } = version;
  if (!Number.isInteger(major) || major < 1 || major > 0xff || !Number.isInteger(minor) || minor < 0 || minor > 0xff) {
    throw new CodecError('OUT_OF_RANGE', `object version ${major}.${minor} has no G.3.3 coding`, { field });
  }
  return Uint8Array.of(major, minor);
}

// ---------------------------------------------------------------------------------------------
// Plan -> file

/**
 * The file for one device: what the device holds after a bootstrap from this plan, including its
 * own Bootstrap-Server account (the same instances a factory-provisioned device starts with;
 * deletes, reads and Discover have no meaning on a card). Keys are included: the card is where
 * they are meant to live, and the SCP03 channel (Appendix H) protects them on the way to the
 * device. Security, Server, ACL and OSCORE are all defined in the LwM2M enabler, so each carries
 * IMPLICIT_VERSION.
 */
export function encodeBootstrapFile(plan: BootstrapPlan): Uint8Array {
  const records = factoryInstances(plan).flatMap((write) => flattenTree(treeFromJsonView(write.values, parsePath(write.path))));
  const tree = treeFromPathValues(records, ROOT_PATH);
  return encodeBootstrapData(tree.map((object) => ({ version: 'implicit', object })));
}

// ---------------------------------------------------------------------------------------------
// File -> typed instances

/** A Security instance (/0/x) as read from the card. */
export interface SecurityInstance {
  readonly instanceId: number;
  readonly serverUri: string;
  readonly bootstrapServer: boolean;
  readonly securityMode: number;
  readonly publicKeyOrIdentity: Uint8Array;
  readonly serverPublicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly shortServerId: number | undefined;
  readonly clientHoldOffTime: number | undefined;
  readonly bootstrapServerAccountTimeout: number | undefined;
  readonly oscoreSecurityMode: ObjectLink | undefined;
}

/** A Server instance (/1/x) as read from the card. */
export interface ServerInstance {
  readonly instanceId: number;
  readonly shortServerId: number;
  readonly lifetime: number;
  readonly defaultMinPeriod: number | undefined;
  readonly defaultMaxPeriod: number | undefined;
  readonly disableTimeout: number | undefined;
  readonly notificationStoring: boolean;
  readonly binding: string;
}

export interface SmartcardBootstrap {
  /**
   * Every object on the card, each with its version, for a client to apply as Bootstrap
   * Information. Objects other than Security and Server (ACL, OSCORE, or any other) are kept as
   * they are: G.3.3 stores "a collection of LwM2M Objects", not only these two.
   */
  readonly objects: readonly BootstrapDataObject[];
  readonly security: readonly SecurityInstance[];
  readonly servers: readonly ServerInstance[];
}

const SECURITY = 0;
const SERVER = 1;
/** Core 1.1 Appendix E.1 Security Mode: 0 PSK, 1 RPK, 2 Certificate, 3 NoSec, 4 Certificate with EST. */
const MAX_SECURITY_MODE = 4;
const MODES_WITH_KEYS = new Set([0, 1, 2]);

/**
 * Decodes the file and checks it is Bootstrap Information a client can apply: Security and
 * Server instances with their mandatory resources (Core Appendix E.1, E.2), a Short Server ID on
 * every non-bootstrap Security instance, keys where the mode needs them, at most one
 * Bootstrap-Server account, and a Security instance for every Server instance's Short Server ID.
 * Key resources may be absent only where the mode has no use for them (a NoSec account).
 */
export function decodeBootstrapFile(bytes: Uint8Array): SmartcardBootstrap {
  const objects = decodeBootstrapData(bytes);
  const instancesOf = (id: number): readonly InstanceNode[] => objects.find(({ object }) => object.id === id)?.object.instances ?? [];
  const security = instancesOf(SECURITY).map(securityInstance);
  const servers = instancesOf(SERVER).map(serverInstance);

  const accounts = new Map<number, SecurityInstance>();
  let bootstrapAccount: SecurityInstance | undefined;
  for (const instance of security) {
    const field = `/0/${instance.instanceId}`;
    if (instance.bootstrapServer) {
      if (bootstrapAccount !== undefined) throw new CodecError('DUPLICATE', 'more than one Bootstrap-Server account', { field: `${field}/1` });
      bootstrapAccount = instance;
      continue;
    }
    if (instance.shortServerId === undefined) throw new CodecError('MALFORMED', 'a LwM2M Server account needs its Short Server ID', { field: `${field}/10` });
    if (accounts.has(instance.shortServerId)) throw new CodecError('DUPLICATE', `Short Server ID ${instance.shortServerId} on two Security instances`, { field: `${field}/10` });
    accounts.set(instance.shortServerId, instance);
  }
  const serverIds = new Set<number>();
  for (const server of servers) {
    const field = `/1/${server.instanceId}/0`;
    if (!accounts.has(server.shortServerId)) throw new CodecError('MALFORMED', `no Security instance has Short Server ID ${server.shortServerId}`, { field });
    if (serverIds.has(server.shortServerId)) throw new CodecError('DUPLICATE', `Short Server ID ${server.shortServerId} on two Server instances`, { field });
    serverIds.add(server.shortServerId);
  }
  return { objects, security, servers };
}

function securityInstance(instance: InstanceNode): SecurityInstance {
  const get = resourceReader(SECURITY, instance);
  const securityMode = get.number(SecurityResource.SECURITY_MODE, 'integer', true, 0, MAX_SECURITY_MODE);
  const needsKeys = MODES_WITH_KEYS.has(securityMode);
  const key = (id: number): Uint8Array => {
    const value = get.opaque(id);
    if (needsKeys && id !== SecurityResource.SERVER_PUBLIC_KEY && value.length === 0) {
      throw new CodecError('MALFORMED', `Security Mode ${securityMode} needs this key resource`, { field: `/0/${instance.id}/${id}` });
    }
    return value;
  };
  return {
    instanceId: instance.id,
    serverUri: get.string(SecurityResource.SERVER_URI, true),
    bootstrapServer: get.boolean(SecurityResource.BOOTSTRAP_SERVER, true),
    securityMode,
    publicKeyOrIdentity: key(SecurityResource.PUBLIC_KEY_OR_IDENTITY),
    serverPublicKey: key(SecurityResource.SERVER_PUBLIC_KEY),
    secretKey: key(SecurityResource.SECRET_KEY),
    // Core 1.1 E.1: Short Server ID 1-65534 (65535 is reserved).
    shortServerId: get.optionalNumber(SecurityResource.SHORT_SERVER_ID, 'integer', 1, 65534),
    clientHoldOffTime: get.optionalNumber(SecurityResource.CLIENT_HOLD_OFF_TIME, 'integer', 0, 2 ** 32 - 1),
    bootstrapServerAccountTimeout: get.optionalNumber(SecurityResource.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT, 'integer', 0, 2 ** 32 - 1),
    oscoreSecurityMode: get.optionalObjlnk(SecurityResource.OSCORE_SECURITY_MODE),
  };
}

function serverInstance(instance: InstanceNode): ServerInstance {
  const get = resourceReader(SERVER, instance);
  return {
    instanceId: instance.id,
    shortServerId: get.number(ServerResource.SHORT_SERVER_ID, 'integer', true, 1, 65534),
    lifetime: get.number(ServerResource.LIFETIME, 'integer', true, 0, 2 ** 32 - 1),
    defaultMinPeriod: get.optionalNumber(ServerResource.DEFAULT_MIN_PERIOD, 'integer', 0, 2 ** 32 - 1),
    defaultMaxPeriod: get.optionalNumber(ServerResource.DEFAULT_MAX_PERIOD, 'integer', 0, 2 ** 32 - 1),
    disableTimeout: get.optionalNumber(ServerResource.DISABLE_TIMEOUT, 'integer', 0, 2 ** 32 - 1),
    notificationStoring: get.boolean(ServerResource.NOTIFICATION_STORING, true),
    binding: get.string(ServerResource.BINDING, true),
  };
}

/** Typed access to one instance's single resources; every miss names the resource's path. */
function resourceReader(objectId: number, instance: InstanceNode) {
  const path = (id: number): string => `/${objectId}/${instance.id}/${id}`;
  const value = (id: number, mandatory: boolean): ResourceValue | undefined => {
    const resource = instance.resources.find((candidate) => candidate.id === id);
    if (resource === undefined) {
      if (mandatory) throw new CodecError('MALFORMED', 'mandatory resource missing', { field: path(id) });
      return undefined;
    }
    if (resource.kind !== 'single') throw new CodecError('MALFORMED', 'expected a single-instance resource', { field: path(id) });
    return resource.value;
  };
  type Typed<T> = Extract<ResourceValue, { type: T }>;
  const typed = <T extends ResourceValue['type']>(id: number, type: T, mandatory: boolean): Typed<T> | undefined => {
    const found = value(id, mandatory);
    if (found === undefined) return undefined;
    if (found.type !== type) throw new CodecError('TYPE_MISMATCH', `expected ${type}, found ${found.type}`, { field: path(id) });
    return found as Typed<T>;
  };
  const optionalNumber = (id: number, type: 'integer' | 'unsigned', min: number, max: number): number | undefined => {
    const found = typed(id, type, false);
    if (found === undefined) return undefined;
    if (found.value < BigInt(min) || found.value > BigInt(max)) throw new CodecError('OUT_OF_RANGE', `value outside ${min}-${max}`, { field: path(id) });
    return Number(found.value);
  };
  return {
    string: (id: number, mandatory: true): string => typed(id, 'string', mandatory)!.value,
    boolean: (id: number, mandatory: true): boolean => typed(id, 'boolean', mandatory)!.value,
    opaque: (id: number): Uint8Array => typed(id, 'opaque', false)?.value ?? new Uint8Array(0),
    optionalNumber,
    number: (id: number, type: 'integer' | 'unsigned', mandatory: true, min: number, max: number): number => {
      value(id, mandatory);
      return optionalNumber(id, type, min, max)!;
    },
    optionalObjlnk: (id: number): ObjectLink | undefined => typed(id, 'objlnk', false)?.value,
  };
}
