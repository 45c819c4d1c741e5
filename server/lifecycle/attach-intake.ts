import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';
import { parseAttachEvent, type AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import type { AttachResult } from '../../shared/lifecycle/attach-processing.ts';

/**
 * `POST /attach` on loopback: carrier attach events for the local server, as the attach Lambda
 * takes them from SQS on AWS. The body is one event, a JSON array of events, or JSON Lines;
 * events are taken one after another in body order (events of one device must be decided in
 * turn), and the answer is 200 with one result per event.
 *
 * There is no authentication: it listens on 127.0.0.1 only. A web page the operator visits can
 * still send requests to loopback, so a request with an `Origin` (every browser POST has one)
 * is refused, and only JSON content types are taken (a browser cannot send those cross-origin
 * without a preflight, which this never answers).
 */

export const ATTACH_PATH = '/attach';
export const DEFAULT_ATTACH_PORT = 5690;
export const MAX_ATTACH_BODY_BYTES = 1024 * 1024;

const JSON_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/x-ndjson', 'application/jsonl', 'application/json-seq']);

/** One event of a body: its position (`[2]`, `line 3`, or '' for a lone object) and what it held. */
export interface SourcedEvent {
  readonly label: string;
  readonly value?: unknown;
  /** Set when the line was not JSON at all. */
  readonly notJson?: string;
}

export type SplitEvents = { readonly ok: true; readonly events: SourcedEvent[] } | { readonly ok: false; readonly error: string };

/**
 * One JSON object, a JSON array of them, or JSON Lines (one object a line, blank lines
 * skipped). Errors give the position only: an event is not secret, but the same reader habits
 * apply to every document.
 */
export function splitAttachEvents(text: string): SplitEvents {
  try {
    const document: unknown = JSON.parse(text);
    return { ok: true, events: Array.isArray(document) ? document.map((value: unknown, index) => ({ label: `[${index}]`, value })) : [{ label: '', value: document }] };
  } catch (error) {
    const lines = text.split(/\r?\n/).map((line, index) => ({ line, number: index + 1 })).filter(({ line }) => line.trim() !== '');
    // A JSON Lines body starts with a whole event; anything else is one broken document.
    if (lines.length <= 1 || text.trimStart().startsWith('[') || !isJson(lines[0]!.line)) {
      return { ok: false, error: `not valid JSON${positionOf(error)}` };
    }
    return {
      ok: true,
      events: lines.map(({ line, number }) => {
        try {
          return { label: `line ${number}`, value: JSON.parse(line) as unknown };
        } catch (lineError) {
          return { label: `line ${number}`, notJson: `not valid JSON${positionOf(lineError)}` };
        }
      }),
    };
  }
}

/** The answer for one event of the body, in body order. */
export type AttachIntakeResult =
  | { readonly index: number; readonly outcome: 'invalid'; readonly issues: readonly ConfigurationIssue[] }
  | { readonly index: number; readonly eventId: string; readonly outcome: 'error'; readonly error: string }
  | ({ readonly index: number; readonly eventId: string } & AttachResult);

export interface AttachIntakeOptions {
  readonly port?: number;
  /** Default 127.0.0.1; anything but loopback exposes an unauthenticated endpoint. */
  readonly host?: string;
  readonly process: (event: AttachEvent) => Promise<AttachResult>;
}

export interface AttachIntake {
  /** `http://127.0.0.1:<port>/attach` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAttachIntake(options: AttachIntakeOptions): Promise<AttachIntake> {
  const server = createServer((request, response) => {
    handle(request, response, options.process).catch((error: unknown) => {
      // Only a failure to write the answer gets here; the events' own errors are results.
      if (!response.headersSent) answer(response, 500, { error: error instanceof Error ? error.message : 'internal error' });
      else response.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_ATTACH_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${ATTACH_PATH}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, process: AttachIntakeOptions['process']): Promise<void> {
  const path = (request.url ?? '').split('?')[0];
  if (path !== ATTACH_PATH) return answer(response, 404, { error: `not found; events go to POST ${ATTACH_PATH}` });
  if (request.method !== 'POST') return answer(response, 405, { error: 'method not allowed' }, { Allow: 'POST' });
  if (request.headers.origin !== undefined) return answer(response, 403, { error: 'requests from web pages are refused' });
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!JSON_TYPES.has(type)) return answer(response, 415, { error: 'send application/json or application/x-ndjson' });

  const body = await readBody(request);
  if (body === undefined) return answer(response, 413, { error: `the body is over ${MAX_ATTACH_BODY_BYTES} bytes` }, { Connection: 'close' });
  const split = splitAttachEvents(body);
  if (!split.ok) return answer(response, 400, { error: `the body is ${split.error}` });
  if (split.events.length === 0) return answer(response, 400, { error: 'the body holds no events' });

  const results: AttachIntakeResult[] = [];
  for (const [index, { value, notJson }] of split.events.entries()) {
    if (notJson !== undefined) {
      results.push({ index, outcome: 'invalid', issues: [{ field: '(event)', message: notJson }] });
      continue;
    }
    const parsed = parseAttachEvent(value);
    if (!parsed.ok) {
      results.push({ index, outcome: 'invalid', issues: parsed.issues });
      continue;
    }
    const { eventId } = parsed.event;
    try {
      results.push({ index, eventId, ...(await process(parsed.event)) });
    } catch (error) {
      results.push({ index, eventId, outcome: 'error', error: error instanceof Error ? error.message : 'processing failed' });
    }
  }
  answer(response, 200, { results });
}

/**
 * The body as text, or undefined once it passes the limit (declared or counted). The rest of an
 * oversized body is read and dropped rather than the socket destroyed, so the 413 reaches the
 * client.
 */
function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > MAX_ATTACH_BODY_BYTES;
    if (over) resolve(undefined);
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_ATTACH_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
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
