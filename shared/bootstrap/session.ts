import { CoapCode, describeCode, formatCode } from '../coap/code.ts';
import { ContentFormat } from '../content/format.ts';
import type { JsonView } from '../content/json-view.ts';
import { treeFromJsonView, treeToJsonView } from '../content/json-view.ts';
import { decodeContent, encodeContent } from '../content/registry.ts';
import { parseBootstrapDiscover, type BootstrapDiscoverResult } from '../lwm2m/bootstrap-discover.ts';
import { parsePath } from '../lwm2m/path.ts';
import { expandDeletes } from './delete-expansion.ts';
import type { BootstrapOutcomeKind } from './device.ts';
import { initialContentFormat, nextFallbackFormat } from './format-choice.ts';
import type { SecurityInstances } from './contract.ts';
import { arrangeWrites, securityInstancesOf } from './instance-remap.ts';
import type { BootstrapPlan } from './plan.ts';

/**
 * One server-side bootstrap session (LwM2M Core 1.1 §5.2.7 Bootstrap Interface) as a pure state
 * machine: Bootstrap-Discover, Bootstrap-Delete, Bootstrap-Write, Bootstrap-Read, then
 * Bootstrap-Finish. It sends one request at a time, as LwM2M clients handle one at a time, and
 * leaves transport (CoAP, retransmission, timers) to its caller.
 *
 * Every step returns at most one action: nothing, one request to send, or the end.
 */

export type SessionPurpose = 'discover' | 'delete' | 'write' | 'read' | 'finish';

export type SessionRequest = {
  id: number;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** `/`, `/0/1`, `/bs`. */
  path: string;
  contentFormat?: number;
  accept?: number;
  payload?: Uint8Array;
  purpose: SessionPurpose;
};

export type SessionEvent =
  | { type: 'start'; plan: BootstrapPlan; preferredContentFormat?: number }
  /** `code` is the CoAP code byte, e.g. 0x44 for 2.04. */
  | { type: 'response'; requestId: number; code: number; contentFormat?: number; payload: Uint8Array }
  | { type: 'timeout'; requestId: number }
  /** The request could not complete for a reason of the client's (Reset, a broken block transfer). */
  | { type: 'failed'; requestId: number; reason: string }
  | { type: 'cancel'; reason: string };

export type SessionResult = {
  outcome: BootstrapOutcomeKind;
  detail?: string;
  clientVersion?: string;
  contentFormat?: number;
  reads?: Record<string, unknown>;
  /** A success's Security instances as written (Discover may move them); see `bootstrap-ended`. */
  securityInstances?: SecurityInstances;
};

export type SessionAction = { type: 'send'; request: SessionRequest } | { type: 'end'; result: SessionResult };

/** A step still to take; writes carry their (possibly moved) instance path and values. */
export type SessionStep =
  | { readonly purpose: 'discover' }
  | { readonly purpose: 'delete'; readonly path: string }
  | { readonly purpose: 'write'; readonly path: string; readonly values: JsonView }
  | { readonly purpose: 'read'; readonly path: string }
  | { readonly purpose: 'finish' };

export interface InFlightRequest {
  readonly requestId: number;
  readonly step: SessionStep;
  /** The format a write's payload or a read's Accept used. */
  readonly format?: number;
  /** Formats this write has already been refused in (4.06/4.15) or could not be encoded in. */
  readonly triedFormats: readonly number[];
}

/** Plain data only, so a runner can log or persist it; every step returns a new state. */
export interface SessionState {
  readonly phase: 'idle' | 'running' | 'ended';
  readonly nextRequestId: number;
  readonly inFlight?: InFlightRequest;
  /** Steps after the one in flight; filled once Discover has answered (or was not asked). */
  readonly pending: readonly SessionStep[];
  readonly plan?: BootstrapPlan;
  /** The format the next write starts in and reads accept. */
  readonly contentFormat: number;
  /** The format of the last write the client took. */
  readonly provenFormat?: number;
  readonly clientVersion?: string;
  readonly discovered?: BootstrapDiscoverResult;
  /** The Bootstrap-Request carried `pct`, which LwM2M 1.0 clients never send. */
  readonly pctGiven?: boolean;
  readonly reads: Readonly<Record<string, unknown>>;
  /** Where the writes in `pending` put the plan's Security instances; absent when it has none. */
  readonly securityInstances?: SecurityInstances;
}

type Step = { state: SessionState; actions: SessionAction[] };

const MAX_DETAIL = 1024;
// deviceStatus.clientVersion allows 8 characters; a longer version is not one LwM2M defines.
const MAX_CLIENT_VERSION = 8;
// A device status must fit a DynamoDB item (400 KB); a read larger than this is recorded as
// too large rather than making the outcome impossible to store.
const MAX_READ_JSON = 16 * 1024;

const OPERATION: Readonly<Record<SessionPurpose, string>> = {
  discover: 'Bootstrap-Discover',
  delete: 'Bootstrap-Delete',
  write: 'Bootstrap-Write',
  read: 'Bootstrap-Read',
  finish: 'Bootstrap-Finish',
};

export function initialSessionState(): SessionState {
  return { phase: 'idle', nextRequestId: 1, pending: [], contentFormat: ContentFormat.TLV, reads: {} };
}

export function stepSession(state: SessionState, event: SessionEvent): Step {
  if (state.phase === 'ended') return idle(state);
  switch (event.type) {
    case 'start':
      return state.phase === 'idle' ? start(state, event.plan, event.preferredContentFormat) : idle(state);
    case 'cancel':
      return end(state, 'cancelled', event.reason);
    case 'timeout':
      if (state.inFlight?.requestId !== event.requestId) return idle(state);
      return end(state, 'timeout', `no answer to ${describeStep(state.inFlight.step)}`);
    case 'failed':
      if (state.inFlight?.requestId !== event.requestId) return idle(state);
      return end(state, 'client-error', `${describeStep(state.inFlight.step)}: ${event.reason}`);
    case 'response':
      if (state.inFlight?.requestId !== event.requestId) return idle(state);
      return respond(state, state.inFlight, event);
  }
}

function start(state: SessionState, plan: BootstrapPlan, preferredContentFormat: number | undefined): Step {
  const running: SessionState = {
    ...state,
    phase: 'running',
    plan,
    contentFormat: initialContentFormat(plan.contentFormat, preferredContentFormat),
    pctGiven: preferredContentFormat !== undefined,
  };
  // A plan whose values do not make a tree fails here, before the client is touched at all.
  for (const write of [...plan.writes, ...(plan.bootstrapServerWrite === undefined ? [] : [plan.bootstrapServerWrite])]) {
    const problem = treeProblem(write.path, write.values);
    if (problem !== undefined) return end(running, 'client-error', problem);
  }
  if (plan.discover) return send(running, { purpose: 'discover' }, [], {});
  return advance({ ...running, ...stepsAfterDiscover(plan, undefined, false) });
}

/** Bootstrap-Read exists from LwM2M 1.1; a 1.0 client may leave it unanswered and stall Finish. */
function stepsAfterDiscover(
  plan: BootstrapPlan,
  discovered: BootstrapDiscoverResult | undefined,
  clientIs10: boolean,
): Pick<SessionState, 'pending' | 'securityInstances'> {
  const writes = arrangeWrites(plan, discovered);
  const placed = securityInstancesOf(plan, writes);
  const pending: SessionStep[] = [
    ...expandDeletes(plan.deletes, discovered).map((path): SessionStep => ({ purpose: 'delete', path })),
    ...writes.map((write): SessionStep => ({ purpose: 'write', path: write.path, values: write.values })),
    ...(clientIs10 ? [] : plan.reads.map((path): SessionStep => ({ purpose: 'read', path }))),
    { purpose: 'finish' },
  ];
  const none = Object.keys(placed.writes).length === 0 && placed.bootstrapServer === undefined;
  return none ? { pending } : { pending, securityInstances: placed };
}

function respond(state: SessionState, inFlight: InFlightRequest, response: { code: number; contentFormat?: number; payload: Uint8Array }): Step {
  const { step } = inFlight;
  const { code } = response;
  switch (step.purpose) {
    case 'discover':
      return discovered(state, code === CoapCode.CONTENT ? parseDiscover(response.payload) : undefined);
    case 'delete':
      // 4.04: already gone, which is what a delete wants.
      if (code === CoapCode.DELETED || code === CoapCode.NOT_FOUND) return advance(state);
      return end(state, 'client-error', refused(step, code));
    case 'write':
      if (code === CoapCode.CHANGED || code === CoapCode.CREATED) {
        return advance({ ...state, contentFormat: inFlight.format!, provenFormat: inFlight.format! });
      }
      if (code === CoapCode.NOT_ACCEPTABLE || code === CoapCode.UNSUPPORTED_CONTENT_FORMAT) {
        return sendWrite(state, step, [...inFlight.triedFormats, inFlight.format!], code);
      }
      return end(state, 'client-error', refused(step, code));
    case 'read':
      return advance({ ...state, reads: { ...state.reads, [step.path]: readResult(step.path, inFlight.format!, response) } });
    case 'finish':
      if (code === CoapCode.CHANGED) return end(state, 'success');
      if (code === CoapCode.NOT_ACCEPTABLE) return end(state, 'finish-failed', diagnostic(response.payload));
      return end(state, 'client-error', refused(step, code));
  }
}

/**
 * A Discover that fails (LwM2M 1.0 clients answer 4.04/4.05) or cannot be parsed leaves the
 * client's accounts unknown: the plan goes on with its paths as planned.
 */
function parseDiscover(payload: Uint8Array): BootstrapDiscoverResult | undefined {
  try {
    return parseBootstrapDiscover(payload);
  } catch {
    return undefined;
  }
}

function discovered(state: SessionState, result: BootstrapDiscoverResult | undefined): Step {
  // A client that refuses Bootstrap-Discover and sent no `pct` behaves as LwM2M 1.0 does.
  const version = result?.lwm2mVersion ?? (result === undefined && state.pctGiven !== true ? '1.0' : undefined);
  return advance({
    ...state,
    ...(result === undefined ? {} : { discovered: result }),
    ...(version !== undefined && version.length <= MAX_CLIENT_VERSION ? { clientVersion: version } : {}),
    ...stepsAfterDiscover(state.plan!, result, version === '1.0'),
  });
}

function advance(state: SessionState): Step {
  const [next, ...rest] = state.pending;
  const remaining: SessionState = { ...state, pending: rest };
  if (next === undefined) return end(remaining, 'client-error', 'session ran out of steps before Bootstrap-Finish');
  if (next.purpose === 'write') return sendWrite(remaining, next, []);
  if (next.purpose === 'read') return send(remaining, next, [], { accept: state.contentFormat }, state.contentFormat);
  return send(remaining, next, [], {});
}

/**
 * Sends a write in the session's format, or after a refusal in the next untried format of the
 * fallback chain. A format the encoder cannot use for these values counts as refused too.
 */
function sendWrite(state: SessionState, step: SessionStep & { purpose: 'write' }, tried: readonly number[], refusal?: number): Step {
  const path = parsePath(step.path);
  let attempted = [...tried];
  for (;;) {
    const format = attempted.length === 0 ? state.contentFormat : nextFallbackFormat(attempted);
    if (format === undefined) {
      const why = refusal === undefined ? 'no content format could encode it' : `${describeCode(refusal)} in every content format tried`;
      return end(state, 'client-error', `${describeStep(step)}: ${why} (${attempted.join(', ')})`);
    }
    let payload: Uint8Array;
    try {
      payload = encodeContent(format, treeFromJsonView(step.values, path), path);
    } catch {
      attempted = [...attempted, format];
      continue;
    }
    return send(state, step, attempted, { contentFormat: format, payload }, format);
  }
}

function send(
  state: SessionState,
  step: SessionStep,
  triedFormats: readonly number[],
  options: { contentFormat?: number; accept?: number; payload?: Uint8Array },
  format?: number,
): Step {
  const id = state.nextRequestId;
  const request: SessionRequest = { id, ...requestLine(step), ...options, purpose: step.purpose };
  return {
    state: { ...state, nextRequestId: id + 1, inFlight: { requestId: id, step, triedFormats, ...(format === undefined ? {} : { format }) } },
    actions: [{ type: 'send', request }],
  };
}

function requestLine(step: SessionStep): Pick<SessionRequest, 'method' | 'path' | 'accept'> {
  switch (step.purpose) {
    case 'discover':
      return { method: 'GET', path: '/', accept: ContentFormat.LINK_FORMAT };
    case 'delete':
      return { method: 'DELETE', path: step.path };
    case 'write':
      return { method: 'PUT', path: step.path };
    case 'read':
      return { method: 'GET', path: step.path };
    case 'finish':
      return { method: 'POST', path: '/bs' };
  }
}

/** A read that fails or cannot be decoded is recorded as such; the bootstrap itself goes on. */
function readResult(path: string, accepted: number, response: { code: number; contentFormat?: number; payload: Uint8Array }): unknown {
  if (response.code !== CoapCode.CONTENT) return { error: formatCode(response.code) };
  try {
    const view = treeToJsonView(decodeContent(response.contentFormat ?? accepted, response.payload, parsePath(path)));
    const size = JSON.stringify(view).length;
    return size <= MAX_READ_JSON ? view : { error: `too large to record (${size} characters of JSON)` };
  } catch (error) {
    return { error: `undecodable: ${clean(error instanceof Error ? error.message : String(error))}` };
  }
}

function treeProblem(path: string, values: JsonView): string | undefined {
  try {
    treeFromJsonView(values, parsePath(path));
    return undefined;
  } catch (error) {
    return `plan write ${path}: ${clean(error instanceof Error ? error.message : String(error))}`;
  }
}

function describeStep(step: SessionStep): string {
  switch (step.purpose) {
    case 'discover':
      return `${OPERATION.discover} /`;
    case 'finish':
      return `${OPERATION.finish} /bs`;
    default:
      return `${OPERATION[step.purpose]} ${step.path}`;
  }
}

function refused(step: SessionStep, code: number): string {
  return `${describeStep(step)} answered ${describeCode(code)}`;
}

/** The client's Bootstrap-Finish 4.06 payload: its own words on what was inconsistent. */
function diagnostic(payload: Uint8Array): string {
  const text = new TextDecoder().decode(payload);
  return text.length === 0 ? `${OPERATION.finish} answered ${describeCode(CoapCode.NOT_ACCEPTABLE)} without a diagnostic` : clean(text);
}

/** Control characters replaced (they would forge log lines), cut to what a device status holds. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  if (printable.length <= MAX_DETAIL) return printable;
  const cut = printable.slice(0, MAX_DETAIL);
  // Never leave half a surrogate pair behind.
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

function end(state: SessionState, outcome: BootstrapOutcomeKind, detail?: string): Step {
  const result: SessionResult = {
    outcome,
    ...(detail === undefined ? {} : { detail: clean(detail) }),
    ...(state.clientVersion === undefined ? {} : { clientVersion: state.clientVersion }),
    ...(state.provenFormat === undefined ? {} : { contentFormat: state.provenFormat }),
    ...(state.plan === undefined || state.plan.reads.length === 0 ? {} : { reads: { ...state.reads } }),
    // Only a success: the writes of a session that failed may not all have been taken.
    ...(outcome === 'success' && state.securityInstances !== undefined && { securityInstances: state.securityInstances }),
  };
  const ended: SessionState = {
    phase: 'ended',
    nextRequestId: state.nextRequestId,
    pending: [],
    contentFormat: state.contentFormat,
    reads: state.reads,
  };
  return { state: ended, actions: [{ type: 'end', result }] };
}

function idle(state: SessionState): Step {
  return { state, actions: [] };
}
