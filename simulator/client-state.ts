import type { ContentTree, InstanceNode, ResourceNode } from '../shared/content/tree.ts';
import type { BootstrapDiscoverResult, DiscoveredInstance, DiscoveredObject } from '../shared/lwm2m/bootstrap-discover.ts';
import { pathLevel, type LwM2MPath } from '../shared/lwm2m/path.ts';
import { SecurityMode, SecurityResource } from '../shared/lwm2m/objects/security.ts';
import { ServerResource } from '../shared/lwm2m/objects/server.ts';
import type { ResourceValue } from '../shared/lwm2m/value.ts';

/**
 * What a simulated client holds: its object instances, changed only through the bootstrap
 * interface (LwM2M Core 1.1 §5.2.7). The Bootstrap-Server Account (the Security instance whose
 * resource 1 is true), the OSCORE instance it links to, and the Device object are never
 * affected by Bootstrap-Delete.
 *
 * A client may hold two Bootstrap-Server Accounts for a while: a bootstrap that replaces a
 * low-entropy account writes a new one beside it, and "the original LWM2M Bootstrap Server
 * Account MUST be purged by the new LWM2M bootstrap server" (Core §5.2.2.2, step 4), which it can
 * only do with a Bootstrap-Delete of that instance. So the account §5.2.7.5 protects is the one
 * the session runs over: a Delete of `/` or `/0` keeps every Bootstrap-Server Account, and an
 * explicit Delete of `/0/x` removes one only when it is not the session's own and another
 * remains. The client uses its newest Bootstrap-Server Account for its next Bootstrap-Request.
 */
export const SECURITY = 0;
export const SERVER = 1;
export const ACCESS_CONTROL = 2;
export const DEVICE = 3;
export const OSCORE = 21;

export type DeleteOutcome = 'deleted' | 'not-found' | 'protected' | 'bad-path';

/** A Server Account: a non-bootstrap Security instance and the Server instance with its Short Server ID. */
export interface ServerAccount {
  readonly shortServerId: number;
  readonly securityInstanceId: number;
  readonly serverInstanceId: number;
  readonly uri: string | undefined;
  readonly lifetime: number | undefined;
  readonly binding: string | undefined;
}

/** A Security instance without its keys: for results that get printed. */
export interface SecurityAccountSummary {
  readonly instanceId: number;
  readonly bootstrapServer: boolean;
  readonly uri?: string;
  readonly securityMode?: number;
  readonly shortServerId?: number;
}

/** What a smartcard provisioned (Core §5.2.2.3): its instances, and the card file they came from. */
export interface SmartcardProvision {
  /** SHA-256 of the card's EF LwM2M_Bootstrap (hex). */
  readonly fingerprint: string;
  /** `/0/1`, `/1/0`, ...: the instances still as the card wrote them. */
  readonly instances: readonly string[];
}

interface SmartcardRecord {
  readonly fingerprint: string;
  readonly instances: Set<string>;
  /** What the card's instances took the place of, put back when the card's data is deleted. */
  readonly displaced: Map<string, InstanceNode>;
}

export class ClientObjectStore {
  readonly #objects = new Map<number, Map<number, InstanceNode>>();
  #smartcard: SmartcardRecord | undefined;
  /** Objects the client implements, listed by Discover and Register even without instances. */
  readonly #supported: ReadonlySet<number>;
  /** When each Security instance was created, as a count: the newest Bootstrap-Server Account is used. */
  readonly #securityCreated = new Map<number, number>();
  #creations = 0;
  /** The Bootstrap-Server Account the current (or last) bootstrap session runs over. */
  #sessionAccountId: number | undefined;

  constructor(initial: ContentTree, supportedObjects: readonly number[]) {
    this.#supported = new Set(supportedObjects);
    for (const object of initial) {
      for (const instance of object.instances) this.#put(object.id, instance);
    }
  }

  /** Everything held, sorted by object and instance id; objects without instances are left out. */
  tree(): ContentTree {
    return [...this.#objects.entries()]
      .filter(([, instances]) => instances.size > 0)
      .sort(([a], [b]) => a - b)
      .map(([id, instances]) => ({ id, instances: sortedInstances(instances) }));
  }

  objectIds(): number[] {
    return [...new Set([...this.#supported, ...this.tree().map((object) => object.id)])].sort((a, b) => a - b);
  }

  instance(objectId: number, instanceId: number): InstanceNode | undefined {
    return this.#objects.get(objectId)?.get(instanceId);
  }

  bootstrapServerInstanceId(): number | undefined {
    for (const [id, instance] of this.#objects.get(SECURITY) ?? []) {
      if (isBootstrapAccount(instance)) return id;
    }
    return undefined;
  }

  /** Every Bootstrap-Server Account's Security instance id, ascending. */
  bootstrapServerInstanceIds(): number[] {
    return sortedInstances(this.#objects.get(SECURITY) ?? new Map()).filter(isBootstrapAccount).map((instance) => instance.id);
  }

  /** The Bootstrap-Server Account the client contacts: the one created last. */
  preferredBootstrapAccountId(): number | undefined {
    const ids = this.bootstrapServerInstanceIds();
    return ids.reduce<number | undefined>((newest, id) => (newest === undefined || this.#createdAt(id) > this.#createdAt(newest) ? id : newest), undefined);
  }

  /** A Security instance's PSK (resources 3 and 5) when its Security Mode (resource 2) is PSK. */
  pskOf(securityInstanceId: number): { readonly identity: Uint8Array; readonly key: Uint8Array } | undefined {
    const instance = this.instance(SECURITY, securityInstanceId);
    if (instance === undefined || integer(instance, SecurityResource.SECURITY_MODE) !== SecurityMode.PSK) return undefined;
    const identity = single(instance, SecurityResource.PUBLIC_KEY_OR_IDENTITY);
    const key = single(instance, SecurityResource.SECRET_KEY);
    if (identity?.type !== 'opaque' || key?.type !== 'opaque') return undefined;
    return { identity: identity.value, key: key.value };
  }

  /** A bootstrap session starts over the preferred account, which Bootstrap-Delete must then leave alone. */
  beginBootstrapSession(): number | undefined {
    this.#sessionAccountId = this.preferredBootstrapAccountId();
    return this.#sessionAccountId;
  }

  /** Bootstrap-Delete (Core 1.1 §5.2.7.5). */
  delete(path: LwM2MPath): DeleteOutcome {
    const level = pathLevel(path);
    if (level === 'root') {
      for (const objectId of [...this.#objects.keys()]) this.#deleteObject(objectId);
      return 'deleted';
    }
    const objectId = path.objectId!;
    if (level === 'object') {
      this.#deleteObject(objectId);
      return 'deleted';
    }
    if (level !== 'instance') return 'bad-path';
    const instances = this.#objects.get(objectId);
    if (instances === undefined || !instances.has(path.instanceId!)) return 'not-found';
    if (this.#isProtected(objectId, path.instanceId!) && !this.#isReplacedBootstrapAccount(objectId, path.instanceId!)) return 'protected';
    instances.delete(path.instanceId!);
    return 'deleted';
  }

  /**
   * Bootstrap Information from a smartcard (Core §5.2.2.3): every instance on the card is
   * written whole and remembered as the card's, with the card file's fingerprint. A card that
   * brings a Bootstrap-Server Account takes the place of the one the device had (a client holds
   * at most one); what the card displaced comes back when its data is deleted.
   */
  applySmartcard(tree: ContentTree, fingerprint: string): void {
    if (this.#smartcard !== undefined) this.removeSmartcard();
    const record: SmartcardRecord = { fingerprint, instances: new Set(), displaced: new Map() };
    const cardBootstrapAccount = tree.some((object) => object.id === SECURITY && object.instances.some(isBootstrapAccount));
    const ownBootstrapId = this.bootstrapServerInstanceId();
    if (cardBootstrapAccount && ownBootstrapId !== undefined) {
      record.displaced.set(instanceKey(SECURITY, ownBootstrapId), this.instance(SECURITY, ownBootstrapId)!);
      this.#objects.get(SECURITY)!.delete(ownBootstrapId);
    }
    for (const object of tree) {
      const instances = this.#instances(object.id);
      for (const instance of object.instances) {
        const key = instanceKey(object.id, instance.id);
        const existing = instances.get(instance.id);
        if (existing !== undefined && !record.displaced.has(key)) record.displaced.set(key, existing);
        instances.set(instance.id, instance);
        record.instances.add(key);
      }
    }
    this.#smartcard = record;
  }

  smartcardProvision(): SmartcardProvision | undefined {
    const record = this.#smartcard;
    return record === undefined ? undefined : { fingerprint: record.fingerprint, instances: [...record.instances] };
  }

  /** True when this instance holds what a smartcard wrote (a later Bootstrap-Write makes it the server's). */
  isFromSmartcard(objectId: number, instanceId: number): boolean {
    return this.#smartcard?.instances.has(instanceKey(objectId, instanceId)) ?? false;
  }

  /**
   * Deletes the Bootstrap Information the smartcard created (Core §5.2.2.3, "MUST be deleted")
   * and puts back what it displaced where nothing else has been written since. Returns the
   * paths deleted.
   */
  removeSmartcard(): string[] {
    const record = this.#smartcard;
    if (record === undefined) return [];
    this.#smartcard = undefined;
    const deleted: string[] = [];
    for (const key of record.instances) {
      const [objectId, instanceId] = parseInstanceKey(key);
      if (this.#objects.get(objectId)?.delete(instanceId) === true) deleted.push(key);
    }
    for (const [key, instance] of record.displaced) {
      const [objectId, instanceId] = parseInstanceKey(key);
      if (this.instance(objectId, instanceId) !== undefined) continue;
      if (objectId === SECURITY && isBootstrapAccount(instance) && this.bootstrapServerInstanceId() !== undefined) continue;
      this.#instances(objectId).set(instanceId, instance);
    }
    return deleted;
  }

  #unmarkSmartcard(objectId: number, instanceId: number): void {
    this.#smartcard?.instances.delete(instanceKey(objectId, instanceId));
  }

  /**
   * Bootstrap-Write (Core 1.1 §5.2.7.4): instances are created when absent; in an existing one the
   * resources written replace theirs and the others stay. `tree` is what decodeContent gave at `path`.
   */
  write(path: LwM2MPath, tree: ContentTree): void {
    const resourceInstanceLevel = pathLevel(path) === 'resourceInstance';
    for (const object of tree) {
      const instances = this.#instances(object.id);
      for (const written of object.instances) {
        this.#unmarkSmartcard(object.id, written.id);
        const existing = instances.get(written.id);
        if (existing === undefined) this.#put(object.id, written);
        else instances.set(written.id, mergeInstance(existing, written, resourceInstanceLevel));
      }
    }
  }

  /**
   * A Bootstrap-Pack (Core 1.2): the whole configuration. Security, Server, Access Control and
   * OSCORE instances are replaced by the pack's; the Bootstrap-Server Account (and its OSCORE
   * instance) stay unless the pack carries an instance with the same id.
   */
  applyBootstrapPack(tree: ContentTree): void {
    for (const objectId of [SECURITY, SERVER, ACCESS_CONTROL, OSCORE]) this.#deleteObject(objectId);
    for (const object of tree) {
      const instances = this.#instances(object.id);
      for (const instance of object.instances) {
        this.#unmarkSmartcard(object.id, instance.id);
        if (instances.has(instance.id)) instances.set(instance.id, instance);
        else this.#put(object.id, instance);
      }
    }
  }

  /** Bootstrap-Read (Core 1.1 §5.2.7.2) of an object or an instance; undefined when absent. */
  read(path: LwM2MPath): ContentTree | undefined {
    const instances = this.#objects.get(path.objectId!);
    if (path.instanceId === undefined) {
      if (instances === undefined && !this.#supported.has(path.objectId!)) return undefined;
      return [{ id: path.objectId!, instances: instances === undefined ? [] : sortedInstances(instances) }];
    }
    const instance = instances?.get(path.instanceId);
    return instance === undefined ? undefined : [{ id: path.objectId!, instances: [instance] }];
  }

  /**
   * What Bootstrap-Discover reports (Core 1.1 §5.2.7.3): Security instances with `ssid` (none for
   * the Bootstrap-Server Account) and `uri`, Server instances with `ssid`, OSCORE instances with
   * the `ssid` of the Security instance linking to them.
   */
  discover(lwm2mVersion: string, objectId?: number): BootstrapDiscoverResult {
    const ids = objectId === undefined ? this.objectIds() : [objectId];
    const objects: DiscoveredObject[] = ids.map((id) => ({
      objectId: id,
      instances: sortedInstances(this.#objects.get(id) ?? new Map()).map((instance) => this.#discovered(id, instance)),
    }));
    return { lwm2mVersion, objects };
  }

  /**
   * The check a client makes on Bootstrap-Finish: a diagnostic when the configuration is not
   * usable (no Server Account), undefined when it is. Two Bootstrap-Server Accounts are usable:
   * a replacement is written beside the original, which its first session purges.
   */
  finishDiagnostic(): string | undefined {
    if (this.serverAccounts().length > 0) return undefined;
    const ssids = this.#securityInstances().map(([, instance]) => integer(instance, SecurityResource.SHORT_SERVER_ID));
    if (ssids.length === 0) return 'no Server Account: no Security instance other than the Bootstrap-Server Account';
    return `no Server Account: no Server instance matches the Short Server ID of any Security instance (${ssids.map((ssid) => ssid ?? 'none').join(', ')})`;
  }

  /** Server Accounts in Security instance order. */
  serverAccounts(): ServerAccount[] {
    const servers = sortedInstances(this.#objects.get(SERVER) ?? new Map());
    const accounts: ServerAccount[] = [];
    for (const [securityInstanceId, security] of this.#securityInstances()) {
      const shortServerId = integer(security, SecurityResource.SHORT_SERVER_ID);
      if (shortServerId === undefined) continue;
      const server = servers.find((candidate) => integer(candidate, ServerResource.SHORT_SERVER_ID) === shortServerId);
      if (server === undefined) continue;
      accounts.push({
        shortServerId,
        securityInstanceId,
        serverInstanceId: server.id,
        uri: text(security, SecurityResource.SERVER_URI),
        lifetime: integer(server, ServerResource.LIFETIME),
        binding: text(server, ServerResource.BINDING),
      });
    }
    return accounts;
  }

  securitySummary(): SecurityAccountSummary[] {
    return sortedInstances(this.#objects.get(SECURITY) ?? new Map()).map((instance) => {
      const uri = text(instance, SecurityResource.SERVER_URI);
      const securityMode = integer(instance, SecurityResource.SECURITY_MODE);
      const shortServerId = integer(instance, SecurityResource.SHORT_SERVER_ID);
      return {
        instanceId: instance.id,
        bootstrapServer: isBootstrapAccount(instance),
        ...(uri === undefined ? {} : { uri }),
        ...(securityMode === undefined ? {} : { securityMode }),
        ...(shortServerId === undefined ? {} : { shortServerId }),
      };
    });
  }

  #discovered(objectId: number, instance: InstanceNode): DiscoveredInstance {
    let ssid: number | undefined;
    let uri: string | undefined;
    if (objectId === SECURITY) {
      uri = text(instance, SecurityResource.SERVER_URI);
      if (!isBootstrapAccount(instance)) ssid = integer(instance, SecurityResource.SHORT_SERVER_ID);
    } else if (objectId === SERVER) {
      ssid = integer(instance, ServerResource.SHORT_SERVER_ID);
    } else if (objectId === OSCORE) {
      const owner = [...(this.#objects.get(SECURITY)?.values() ?? [])].find((security) => linksTo(security, instance.id));
      if (owner !== undefined && !isBootstrapAccount(owner)) ssid = integer(owner, SecurityResource.SHORT_SERVER_ID);
    }
    const validSsid = ssid !== undefined && ssid >= 1 && ssid <= 65534 ? ssid : undefined;
    return { instanceId: instance.id, ...(validSsid === undefined ? {} : { ssid: validSsid }), ...(uri === undefined ? {} : { uri }) };
  }

  #securityInstances(): [number, InstanceNode][] {
    return sortedInstances(this.#objects.get(SECURITY) ?? new Map())
      .filter((instance) => !isBootstrapAccount(instance))
      .map((instance) => [instance.id, instance]);
  }

  #deleteObject(objectId: number): void {
    const instances = this.#objects.get(objectId);
    if (instances === undefined) return;
    for (const instanceId of [...instances.keys()]) {
      if (!this.#isProtected(objectId, instanceId)) instances.delete(instanceId);
    }
  }

  /** Every Bootstrap-Server Account (and its OSCORE instance) and the Device object. */
  #isProtected(objectId: number, instanceId: number): boolean {
    if (objectId === DEVICE) return true;
    const accounts = this.bootstrapServerInstanceIds();
    if (objectId === SECURITY) return accounts.includes(instanceId);
    if (objectId === OSCORE) return accounts.some((id) => linksTo(this.instance(SECURITY, id)!, instanceId));
    return false;
  }

  /**
   * An explicit Delete of a Bootstrap-Server Account that is not the session's own, while another
   * remains: the purge of a replaced account by the new Bootstrap-Server (see the class comment).
   */
  #isReplacedBootstrapAccount(objectId: number, instanceId: number): boolean {
    if (objectId !== SECURITY || this.#sessionAccountId === undefined || instanceId === this.#sessionAccountId) return false;
    const instance = this.instance(SECURITY, instanceId);
    const session = this.instance(SECURITY, this.#sessionAccountId);
    return instance !== undefined && isBootstrapAccount(instance) && session !== undefined && isBootstrapAccount(session);
  }

  #put(objectId: number, instance: InstanceNode): void {
    this.#instances(objectId).set(instance.id, instance);
    if (objectId === SECURITY) this.#securityCreated.set(instance.id, this.#creations++);
  }

  #createdAt(securityInstanceId: number): number {
    return this.#securityCreated.get(securityInstanceId) ?? -1;
  }

  #instances(objectId: number): Map<number, InstanceNode> {
    let instances = this.#objects.get(objectId);
    if (instances === undefined) {
      instances = new Map();
      this.#objects.set(objectId, instances);
    }
    return instances;
  }
}

function instanceKey(objectId: number, instanceId: number): string {
  return `/${objectId}/${instanceId}`;
}

function parseInstanceKey(key: string): [number, number] {
  const [, objectId, instanceId] = key.split('/');
  return [Number(objectId), Number(instanceId)];
}

export function isBootstrapAccount(instance: InstanceNode): boolean {
  const value = single(instance, SecurityResource.BOOTSTRAP_SERVER);
  return value?.type === 'boolean' && value.value;
}

function linksTo(security: InstanceNode, oscoreInstanceId: number): boolean {
  const value = single(security, SecurityResource.OSCORE_SECURITY_MODE);
  return value?.type === 'objlnk' && value.value.objectId === OSCORE && value.value.instanceId === oscoreInstanceId;
}

function single(instance: InstanceNode, resourceId: number): ResourceValue | undefined {
  const resource = instance.resources.find((candidate) => candidate.id === resourceId);
  return resource?.kind === 'single' ? resource.value : undefined;
}

/** An integer resource as a number; written in another integer-like type by some servers, so any is taken. */
function integer(instance: InstanceNode, resourceId: number): number | undefined {
  const value = single(instance, resourceId);
  if (value === undefined) return undefined;
  if (value.type === 'integer' || value.type === 'unsigned' || value.type === 'time') return Number(value.value);
  if (value.type === 'float' && Number.isInteger(value.value)) return value.value;
  return undefined;
}

function text(instance: InstanceNode, resourceId: number): string | undefined {
  const value = single(instance, resourceId);
  return value?.type === 'string' ? value.value : undefined;
}

function mergeInstance(existing: InstanceNode, written: InstanceNode, resourceInstanceLevel: boolean): InstanceNode {
  const resources = new Map<number, ResourceNode>(existing.resources.map((resource) => [resource.id, resource]));
  for (const resource of written.resources) {
    const old = resources.get(resource.id);
    if (resourceInstanceLevel && old?.kind === 'multiple' && resource.kind === 'multiple') {
      const entries = new Map(old.instances.map((entry) => [entry.id, entry]));
      for (const entry of resource.instances) entries.set(entry.id, entry);
      resources.set(resource.id, { ...old, instances: [...entries.values()].sort((a, b) => a.id - b.id) });
    } else {
      resources.set(resource.id, resource);
    }
  }
  return { id: existing.id, resources: [...resources.values()].sort((a, b) => a.id - b.id) };
}

function sortedInstances(instances: ReadonlyMap<number, InstanceNode>): InstanceNode[] {
  return [...instances.values()].sort((a, b) => a.id - b.id);
}

