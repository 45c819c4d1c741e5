import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';
import { parseAttachEvent, type AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import { markDeviceForBootstrap, processAttach, type AttachResult } from '../../shared/lifecycle/attach-processing.ts';
import { onePositional, printJson, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, resolveDataDir, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError } from '../usage.ts';
import { splitAttachEvents, type AttachIntakeResult, type SourcedEvent } from '../../server/lifecycle/attach-intake.ts';

/**
 * `lwm2m-bs attach <events|->`: carrier attach events taken by the data directory's store, as
 * the attach Lambda takes them on AWS. When a `lwm2m-bs serve` runs on the directory and
 * announces its attach URL, the events go there, so a bootstrap that is due is pushed through
 * its gateway; otherwise no gateway is reachable from here, and a device that needs a
 * bootstrap is marked and served at its next Bootstrap-Request.
 */

/** The running server's `POST /attach` URL for a data directory, when there is one. */
export type IntakeFinder = (dataDirFlag: string | undefined) => Promise<string | undefined>;

export const findRunningIntake: IntakeFinder = async (dataDirFlag) => {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const { runningAttachUrl } = await import('../../server/store/local-store.ts');
  return runningAttachUrl(resolveDataDir(dataDirFlag));
};

const OPTIONS = {
  'data-dir': { type: 'string', short: 'd' },
  json: { type: 'boolean', default: false },
} as const;

type EventReport =
  | { readonly event: string; readonly outcome: 'invalid'; readonly issues: readonly ConfigurationIssue[] }
  | { readonly event: string; readonly outcome: 'error'; readonly eventId: string; readonly error: string }
  | ({ readonly event: string; readonly eventId: string } & AttachResult);

export async function attachCommand(
  args: string[],
  io: AdminIO,
  open: StoreOpener = openDataDirStore,
  now: () => Date = () => new Date(),
  findIntake: IntakeFinder = findRunningIntake,
): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const source = onePositional('attach', positionals, 'file of events (or - for stdin)');
  const sourced = splitEvents(await readText(source, io), source);
  if (sourced.length === 0) throw new InputError(`${source === '-' ? 'stdin' : source} holds no events`);

  const reports: EventReport[] = [];
  const valid: { label: string; event: AttachEvent }[] = [];
  for (const { label, value, notJson } of sourced) {
    if (notJson !== undefined) {
      reports.push({ event: label, outcome: 'invalid', issues: [{ field: '(event)', message: notJson }] });
      continue;
    }
    const parsed = parseAttachEvent(value);
    if (parsed.ok) valid.push({ label, event: parsed.event });
    else reports.push({ event: label, outcome: 'invalid', issues: parsed.issues });
  }

  const intake = valid.length > 0 ? await findIntake(values['data-dir']) : undefined;
  const posted = intake === undefined ? undefined : await postToIntake(intake, valid.map(({ event }) => event));
  if (posted !== undefined) {
    for (const [index, { label, event }] of valid.entries()) reports.push(reportOf(label, event, posted[index]));
  } else if (valid.length > 0) {
    await withStore(open, values['data-dir'], async (store) => {
      // One after another, in input order: events of one device must be decided in turn.
      for (const { label, event } of valid) {
        try {
          reports.push({ event: label, eventId: event.eventId, ...(await processAttach({ store, now }, event)) });
        } catch (error) {
          if (!(error instanceof Error)) throw error;
          reports.push({ event: label, outcome: 'error', eventId: event.eventId, error: error.message });
        }
      }
    });
  }
  // Back in input order: invalid events were set aside before any was processed.
  const order = new Map(sourced.map(({ label }, index) => [label, index]));
  reports.sort((a, b) => (order.get(a.event) ?? 0) - (order.get(b.event) ?? 0));

  if (values.json) printJson(io, reports);
  else for (const report of reports) (report.outcome === 'invalid' || report.outcome === 'error' ? (io.stderr ?? io.stdout) : io.stdout)(`${describe(report)}\n`);

  const failed = (outcome: EventReport['outcome']): number => reports.filter((report) => report.outcome === outcome).length;
  const problems = [
    [failed('invalid'), 'invalid'],
    [failed('unknown-device'), 'for no known device'],
    [failed('error'), 'failed'],
  ] as const;
  const summary = problems.filter(([count]) => count > 0).map(([count, what]) => `${count} ${what}`);
  if (summary.length > 0) throw new InputError(`attach: of ${reports.length} ${reports.length === 1 ? 'event' : 'events'}, ${summary.join(', ')}`);
}

/**
 * Hands the events to the running server in one request; they are taken there in this order.
 * Undefined when the server is not there after all (it stopped since it announced itself):
 * the caller then takes the events itself. Any other failure is the operator's to see.
 */
async function postToIntake(url: string, events: readonly AttachEvent[]): Promise<readonly AttachIntakeResult[] | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  } catch {
    return undefined;
  }
  const text = await response.text();
  if (response.status !== 200) throw new InputError(`attach: the running server answered ${response.status}: ${errorOf(text)}`);
  let results: unknown;
  try {
    results = (JSON.parse(text) as { results?: unknown }).results;
  } catch {
    throw new InputError('attach: the running server answered with something other than JSON');
  }
  if (!Array.isArray(results) || results.length !== events.length) throw new InputError('attach: the running server did not answer with one result per event');
  return results as AttachIntakeResult[];
}

function errorOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

function reportOf(label: string, event: AttachEvent, result: AttachIntakeResult | undefined): EventReport {
  if (result === undefined) return { event: label, outcome: 'error', eventId: event.eventId, error: 'no result from the running server' };
  if (result.outcome === 'invalid') return { event: label, outcome: 'invalid', issues: result.issues };
  if (result.outcome === 'error') return { event: label, outcome: 'error', eventId: result.eventId, error: result.error };
  // The same report as for an event taken in this process; the label says where it was.
  const { eventId, outcome, endpoint, reasons, simChanged, initiateError } = result;
  return {
    event: label,
    eventId,
    outcome,
    ...(endpoint !== undefined && { endpoint }),
    ...(reasons !== undefined && { reasons }),
    ...(simChanged !== undefined && { simChanged }),
    ...(initiateError !== undefined && { initiateError }),
  };
}

/** `lwm2m-bs device mark-bootstrap <endpoint>`: the device is bootstrapped at its next chance. */
export async function markBootstrapCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore, now: () => Date = () => new Date()): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const endpoint = onePositional('device mark-bootstrap', positionals, 'endpoint');
  const result = await withStore(open, values['data-dir'], (store) => markDeviceForBootstrap(store, endpoint, 'operator', now()));
  if (result.outcome === 'unknown-device') throw new InputError(`no device "${endpoint}"`);
  if (values.json) {
    printJson(io, { endpoint, ...result });
    return;
  }
  const mark = result.bootstrapNeeded;
  io.stdout(
    result.outcome === 'marked'
      ? `device ${endpoint} marked for bootstrap; served at its next Bootstrap-Request\n`
      : `device ${endpoint} was already marked for bootstrap (${mark?.reason ?? 'unknown'} since ${mark?.since ?? 'unknown'})\n`,
  );
}

function describe(report: EventReport): string {
  const where = report.event === '' ? '' : `${report.event} `;
  switch (report.outcome) {
    case 'invalid': {
      const list = report.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
      return `lwm2m-bs: ${where}invalid (${report.issues.length} ${report.issues.length === 1 ? 'problem' : 'problems'}): ${list}`;
    }
    case 'error':
      return `lwm2m-bs: ${where}${report.eventId}: ${report.error}`;
    case 'unknown-device':
      return `${where}${report.eventId}: no device has its iccid, imsi or imei`;
    default: {
      const reasons = report.reasons === undefined ? '' : ` (${report.reasons.join(', ')})`;
      const card = report.simChanged === undefined ? '' : `; SIM changed from ${report.simChanged.from} to ${report.simChanged.to}`;
      const after = report.outcome === 'marked'
        ? `${report.initiateError === undefined ? '' : `; not pushed (${report.initiateError})`}; served at the next Bootstrap-Request`
        : report.outcome === 'initiated' ? '; bootstrap pushed through the gateway' : '';
      return `${where}${report.eventId}: ${report.endpoint ?? '-'} ${report.outcome}${reasons}${card}${after}`;
    }
  }
}

/** The events of a file or stdin (one object, an array, or JSON Lines); InputError when it is neither. */
export function splitEvents(text: string, source: string): SourcedEvent[] {
  const split = splitAttachEvents(text);
  if (!split.ok) throw new InputError(`${source === '-' ? 'stdin' : source} is ${split.error}`);
  return split.events;
}

async function readText(source: string, io: AdminIO): Promise<string> {
  try {
    return source === '-' ? await io.readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
