import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';
import { parseAttachEvent, type AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import { markDeviceForBootstrap, processAttach, type AttachResult } from '../../shared/lifecycle/attach-processing.ts';
import { onePositional, printJson, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError } from '../usage.ts';

/**
 * `lwm2m-bs attach <events|->`: carrier attach events taken by the data directory's store, as
 * the attach Lambda takes them on AWS. No gateway is reachable from here, so a device that needs
 * a bootstrap is marked and served at its next Bootstrap-Request.
 */

const OPTIONS = {
  'data-dir': { type: 'string', short: 'd' },
  json: { type: 'boolean', default: false },
} as const;

/** One event of the input: where it was (`[2]`, `line 3`, or '' for a lone object) and what it held. */
interface SourcedEvent {
  readonly label: string;
  readonly value?: unknown;
  /** Set when the line was not JSON at all. */
  readonly notJson?: string;
}

type EventReport =
  | { readonly event: string; readonly outcome: 'invalid'; readonly issues: readonly ConfigurationIssue[] }
  | { readonly event: string; readonly outcome: 'error'; readonly eventId: string; readonly error: string }
  | ({ readonly event: string; readonly eventId: string } & AttachResult);

export async function attachCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore, now: () => Date = () => new Date()): Promise<void> {
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

  if (valid.length > 0) {
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
      const after = report.outcome === 'marked' ? '; served at the next Bootstrap-Request' : '';
      return `${where}${report.eventId}: ${report.endpoint ?? '-'} ${report.outcome}${reasons}${card}${after}`;
    }
  }
}

/**
 * One JSON object, a JSON array of them, or JSON Lines (one object a line, blank lines
 * skipped). Parse errors give the position only: an event is not secret, but the same reader
 * habits apply to every document.
 */
export function splitEvents(text: string, source: string): SourcedEvent[] {
  try {
    const document: unknown = JSON.parse(text);
    return Array.isArray(document) ? document.map((value: unknown, index) => ({ label: `[${index}]`, value })) : [{ label: '', value: document }];
  } catch (error) {
    const lines = text.split(/\r?\n/).map((line, index) => ({ line, number: index + 1 })).filter(({ line }) => line.trim() !== '');
    // A JSON Lines file starts with a whole event; anything else is one broken document.
    if (lines.length <= 1 || text.trimStart().startsWith('[') || !isJson(lines[0]!.line)) {
      throw new InputError(`${source === '-' ? 'stdin' : source} is not valid JSON${positionOf(error)}`);
    }
    return lines.map(({ line, number }) => {
      try {
        return { label: `line ${number}`, value: JSON.parse(line) as unknown };
      } catch (lineError) {
        return { label: `line ${number}`, notJson: `not valid JSON${positionOf(lineError)}` };
      }
    });
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function positionOf(error: unknown): string {
  const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  return position === undefined ? '' : ` (at character ${Number(position) + 1})`;
}

async function readText(source: string, io: AdminIO): Promise<string> {
  try {
    return source === '-' ? await io.readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** `device` with `mark-bootstrap` added in front of the entry actions. */
export function withMarkBootstrap(
  deviceCommand: (args: string[], io: AdminIO) => Promise<void>,
): (args: string[], io: AdminIO) => Promise<void> {
  return (args, io) => (args[0] === 'mark-bootstrap' ? markBootstrapCommand(args.slice(1), io) : deviceCommand(args, io));
}
