import {
  bootstrapOscoreInstanceIds,
  bootstrapServerInstanceIds,
  type BootstrapDiscoverResult,
} from '../lwm2m/bootstrap-discover.ts';

const SECURITY = 0;
const DEVICE = 3;
const OSCORE = 21;

/**
 * The Bootstrap-Delete paths to send for the plan's deletes, given what Bootstrap-Discover
 * said. A client must never lose its Bootstrap-Server account (Core 1.1 §5.2.7.5) and keeps it
 * on a Delete of `/0` or `/` by itself; but once Discover has named that account, the deletes
 * target every other instance explicitly, so a client that gets the rule wrong cannot lock
 * itself out. Without that knowledge (no Discover, a 1.0 client refusing it, an answer that
 * identifies no Bootstrap-Server account) paths go out as planned and the client protects its
 * account itself.
 */
export function expandDeletes(deletes: readonly string[], discovered: BootstrapDiscoverResult | undefined): string[] {
  const protectedIds = discovered === undefined ? undefined : protectedInstances(discovered);
  const expanded = deletes.flatMap((path) => {
    if (discovered === undefined || protectedIds === undefined) return [path];
    if (path === '/') return expandRoot(discovered, protectedIds);
    const objectId = objectOnly(path);
    if (objectId !== undefined && protectedIds.has(objectId)) return expandObject(discovered, objectId, protectedIds);
    // A profile that names the account's own instance (`/0/0` where the client keeps it) must
    // not get to delete it: Discover has just told us which instance that is.
    const instance = /^\/(\d+)\/(\d+)$/.exec(path);
    if (instance && protectedIds.get(Number(instance[1]))?.includes(Number(instance[2]))) return [];
    return [path];
  });
  return [...new Set(expanded)];
}

/** Instances per object that a delete must skip; undefined when the BS account is not known. */
function protectedInstances(discovered: BootstrapDiscoverResult): ReadonlyMap<number, readonly number[]> | undefined {
  const bootstrapServer = bootstrapServerInstanceIds(discovered);
  if (bootstrapServer.length === 0) return undefined;
  return new Map([
    [SECURITY, bootstrapServer],
    [OSCORE, bootstrapOscoreInstanceIds(discovered)],
  ]);
}

function expandObject(discovered: BootstrapDiscoverResult, objectId: number, protectedIds: ReadonlyMap<number, readonly number[]>): string[] {
  const skip = protectedIds.get(objectId) ?? [];
  const object = discovered.objects.find((candidate) => candidate.objectId === objectId);
  return (object?.instances ?? [])
    .filter((instance) => !skip.includes(instance.instanceId))
    .map((instance) => `/${objectId}/${instance.instanceId}`);
}

/**
 * `/` as the objects the client listed: the protected objects instance by instance, the rest
 * whole. The Device object survives a Delete of `/` (Core 1.1 §5.2.7.5) and a client may refuse
 * an explicit Delete of it, so it is left out; objects listed without instances hold nothing.
 */
function expandRoot(discovered: BootstrapDiscoverResult, protectedIds: ReadonlyMap<number, readonly number[]>): string[] {
  return discovered.objects
    .filter((object) => object.objectId !== DEVICE && object.instances.length > 0)
    .flatMap((object) =>
      protectedIds.has(object.objectId) ? expandObject(discovered, object.objectId, protectedIds) : [`/${object.objectId}`],
    );
}

function objectOnly(path: string): number | undefined {
  const match = /^\/(\d+)$/.exec(path);
  return match === null ? undefined : Number(match[1]);
}
