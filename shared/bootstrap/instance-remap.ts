import type { JsonView, JsonViewValue } from '../content/json-view.ts';
import {
  bootstrapOscoreInstanceIds,
  bootstrapServerInstanceIds,
  type BootstrapDiscoverResult,
} from '../lwm2m/bootstrap-discover.ts';
import { MAX_ID } from '../lwm2m/path.ts';
import type { SecurityInstances } from './contract.ts';
import type { BootstrapPlan, PlanWrite } from './plan.ts';

const SECURITY = 0;
const OSCORE = 21;
/** /0/x/17 "OSCORE Security Mode": the Security instance's link to its OSCORE instance. */
const OSCORE_LINK_RESOURCE = 17;

/**
 * The Bootstrap-Writes in the order sent, fitted to what Bootstrap-Discover found:
 * - a planned Security (or OSCORE) instance whose id is the client's Bootstrap-Server account
 *   (or that account's OSCORE instance) would overwrite that account, so it moves to the lowest
 *   id neither the plan nor the account uses; Security links (/0/x/17) to a moved OSCORE
 *   instance follow it. Server (/1) instances find their Security instance by Short Server ID,
 *   not by instance id, so nothing else changes.
 * - `bootstrapServerWrite` goes to the account's own instance (the first, should a client list
 *   more than one) and is written after the other Security writes, so a client never holds a
 *   rewritten Bootstrap-Server account without the servers the plan configures.
 * Without Discover (or when it named no account) writes keep their planned paths.
 */
export function arrangeWrites(plan: BootstrapPlan, discovered: BootstrapDiscoverResult | undefined): PlanWrite[] {
  const accountIds = discovered === undefined ? [] : bootstrapServerInstanceIds(discovered);
  const accountOscoreIds = discovered === undefined || accountIds.length === 0 ? [] : bootstrapOscoreInstanceIds(discovered);
  const oscoreMoves = clashMoves(plan.writes, OSCORE, accountOscoreIds);
  const securityMoves = clashMoves(plan.writes, SECURITY, accountIds);

  const writes = plan.writes.map((write) => {
    const [objectId, instanceId] = instanceIds(write.path);
    if (objectId === OSCORE) return moveWrite(write, OSCORE, oscoreMoves.get(instanceId) ?? instanceId);
    if (objectId !== SECURITY) return write;
    const moved = moveWrite(write, SECURITY, securityMoves.get(instanceId) ?? instanceId);
    return oscoreMoves.size === 0 ? moved : relinkOscore(moved, oscoreMoves);
  });

  const account = plan.bootstrapServerWrite;
  if (account === undefined) return writes;
  const accountId = accountIds[0];
  const accountWrite = accountId === undefined ? account : moveWrite(account, SECURITY, accountId);
  const afterSecurity = writes.findLastIndex((write) => instanceIds(write.path)[0] === SECURITY) + 1;
  return [...writes.slice(0, afterSecurity), accountWrite, ...writes.slice(afterSecurity)];
}

/**
 * Where arrangeWrites put the plan's Security instances, for `bootstrap-ended`: `arranged` is
 * its answer for `plan`. It keeps the plan's writes in order, one for one, and inserts the
 * Bootstrap-Server rewrite right after the last Security write, so each is found by position.
 */
export function securityInstancesOf(plan: BootstrapPlan, arranged: readonly PlanWrite[]): SecurityInstances {
  const afterSecurity = plan.writes.findLastIndex((write) => instanceIds(write.path)[0] === SECURITY) + 1;
  const writes: Record<string, number> = {};
  plan.writes.slice(0, afterSecurity).forEach((write, index) => {
    const [objectId, planned] = instanceIds(write.path);
    const placed = arranged[index];
    if (objectId === SECURITY && placed !== undefined) writes[String(planned)] = instanceIds(placed.path)[1];
  });
  const account = plan.bootstrapServerWrite === undefined ? undefined : arranged[afterSecurity];
  return { writes, ...(account !== undefined && { bootstrapServer: instanceIds(account.path)[1] }) };
}

/** Planned instances of `objectId` that sit on a protected id, each with its new id. */
function clashMoves(writes: readonly PlanWrite[], objectId: number, protectedIds: readonly number[]): Map<number, number> {
  const planned = writes.map((write) => instanceIds(write.path)).filter(([object]) => object === objectId).map(([, id]) => id);
  const taken = new Set([...planned, ...protectedIds]);
  const moves = new Map<number, number>();
  for (const id of planned) {
    if (!protectedIds.includes(id) || moves.has(id)) continue;
    let free = 0;
    while (taken.has(free)) free += 1;
    // MAX_ID instances would be needed to exhaust the id space; the plan schema cannot get there.
    if (free >= MAX_ID) break;
    taken.add(free);
    moves.set(id, free);
  }
  return moves;
}

function instanceIds(path: string): [number, number] {
  const [, objectId, instanceId] = path.split('/');
  return [Number(objectId), Number(instanceId)];
}

/** The write at `/objectId/newId`; absolute keys follow, relative keys need nothing. */
function moveWrite(write: PlanWrite, objectId: number, newId: number): PlanWrite {
  const path = `/${objectId}/${newId}`;
  if (path === write.path) return write;
  const values: JsonView = {};
  for (const [key, value] of Object.entries(write.values)) {
    values[key.startsWith(`${write.path}/`) ? path + key.slice(write.path.length) : key] = value;
  }
  return { path, values };
}

function relinkOscore(write: PlanWrite, oscoreMoves: ReadonlyMap<number, number>): PlanWrite {
  const values: JsonView = {};
  for (const [key, value] of Object.entries(write.values)) {
    const absolute = key.startsWith('/') ? key : `${write.path}/${key}`;
    const resourceId = Number(absolute.split('/')[3]);
    values[key] = resourceId === OSCORE_LINK_RESOURCE ? relinked(value, oscoreMoves) : value;
  }
  return { path: write.path, values };
}

function relinked(value: JsonViewValue, oscoreMoves: ReadonlyMap<number, number>): JsonViewValue {
  const link = typeof value === 'string' ? value : typeof value === 'object' ? value['objlnk'] : undefined;
  const match = typeof link === 'string' ? /^(\d+):(\d+)$/.exec(link) : null;
  if (match === null || Number(match[1]) !== OSCORE) return value;
  const moved = oscoreMoves.get(Number(match[2]));
  if (moved === undefined) return value;
  const text = `${OSCORE}:${moved}`;
  return typeof value === 'string' ? text : { objlnk: text };
}
