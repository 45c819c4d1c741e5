import { CoapCode, describeCode, formatCode, uriPathString } from '../shared/coap/index.ts';
import { ContentFormat } from '../shared/content/format.ts';
import { decodeContent, encodeContent, TREE_FORMATS } from '../shared/content/registry.ts';
import { isCodecError } from '../shared/errors.ts';
import { encodeBootstrapDiscover } from '../shared/lwm2m/bootstrap-discover.ts';
import { formatPath, parsePath, pathLevel, type LwM2MPath } from '../shared/lwm2m/path.ts';
import { ACCESS_CONTROL, SERVER, type ClientObjectStore } from './client-state.ts';
import type { ClientVersion } from './versions.ts';
import type { IncomingRequest, OutgoingResponse } from './transport.ts';

/**
 * The client side of the bootstrap interface (LwM2M Core 1.1 §5.2.7, Transport 1.1 §6.1.7):
 * how a simulated client answers Bootstrap-Discover, -Read, -Write, -Delete and -Finish.
 * LwM2M 1.0 has neither Discover nor Read, so it answers those 4.05 Method Not Allowed.
 */
export interface BootstrapResponderOptions {
  readonly version: ClientVersion;
  readonly supportedFormats: ReadonlySet<number>;
  /** The format for a Bootstrap-Read without Accept. */
  readonly preferredFormat: number;
  /** How an unsupported Content-Format is refused: 4.15 per the spec, 4.06 as some clients do. */
  readonly rejectFormatWith: '4.06' | '4.15';
}

const encoder = new TextEncoder();

export class BootstrapResponder {
  readonly steps: string[] = [];
  readonly formatsReceived: number[] = [];
  /** The diagnostic of the last Bootstrap-Finish refused, for the run's error. */
  lastFinishDiagnostic: string | undefined;
  readonly finished: Promise<void>;
  readonly #store: ClientObjectStore;
  readonly #options: BootstrapResponderOptions;
  #markFinished: () => void = () => undefined;
  #activity: () => void = () => undefined;

  constructor(store: ClientObjectStore, options: BootstrapResponderOptions) {
    this.#store = store;
    this.#options = options;
    this.finished = new Promise((resolve) => {
      this.#markFinished = resolve;
    });
  }

  /** Called on every request from the bootstrap server (the idle timer restarts there). */
  onActivity(callback: () => void): void {
    this.#activity = callback;
  }

  handle(request: IncomingRequest): OutgoingResponse {
    this.#activity();
    const { message } = request;
    try {
      const segments = message.options.uriPath ?? [];
      if (message.code === CoapCode.POST) {
        if (segments.length === 1 && segments[0] === 'bs') return this.#finish();
        return this.#refuse('POST', uriPathString(message.options), CoapCode.METHOD_NOT_ALLOWED);
      }
      const path = parsePath(uriPathString(message.options));
      switch (message.code) {
        case CoapCode.GET:
          return message.options.accept === ContentFormat.LINK_FORMAT || (pathLevel(path) === 'root' && message.options.accept === undefined)
            ? this.#discover(path)
            : this.#read(path, message.options.accept);
        case CoapCode.PUT:
          return this.#write(path, message.options.contentFormat, request.payload);
        case CoapCode.DELETE:
          return this.#delete(path);
        default:
          return this.#refuse(describeCode(message.code), formatPath(path), CoapCode.METHOD_NOT_ALLOWED);
      }
    } catch (error) {
      // Malformed paths and payloads: 4.00 with what was wrong, never a crash.
      const text = isCodecError(error) ? error.message : 'malformed request';
      this.steps.push(`${describeCode(message.code)} ${uriPathString(message.options)} refused 4.00`);
      return diagnostic(CoapCode.BAD_REQUEST, text);
    }
  }

  #discover(path: LwM2MPath): OutgoingResponse {
    if (this.#options.version === '1.0') return this.#refuse('discover', formatPath(path), CoapCode.METHOD_NOT_ALLOWED);
    const level = pathLevel(path);
    if (level !== 'root' && level !== 'object') return this.#refuse('discover', formatPath(path), CoapCode.BAD_REQUEST);
    this.steps.push(level === 'root' ? 'discover' : `discover ${formatPath(path)}`);
    return {
      code: CoapCode.CONTENT,
      options: { contentFormat: ContentFormat.LINK_FORMAT },
      payload: encodeBootstrapDiscover(this.#store.discover(this.#options.version, path.objectId)),
    };
  }

  /** Bootstrap-Read works on the Server and Access Control objects only; clients never reveal /0 keys. */
  #read(path: LwM2MPath, accept: number | undefined): OutgoingResponse {
    const where = formatPath(path);
    if (this.#options.version === '1.0') return this.#refuse('read', where, CoapCode.METHOD_NOT_ALLOWED);
    if (path.objectId !== SERVER && path.objectId !== ACCESS_CONTROL) return this.#refuse('read', where, CoapCode.BAD_REQUEST);
    if (pathLevel(path) !== 'object' && pathLevel(path) !== 'instance') return this.#refuse('read', where, CoapCode.BAD_REQUEST);
    const format = accept ?? this.#options.preferredFormat;
    if (!this.#options.supportedFormats.has(format) || !TREE_FORMATS.includes(format)) {
      return this.#refuse('read', where, CoapCode.NOT_ACCEPTABLE, format);
    }
    const tree = this.#store.read(path);
    if (tree === undefined) return this.#refuse('read', where, CoapCode.NOT_FOUND);
    this.steps.push(`read ${where} (${format})`);
    return { code: CoapCode.CONTENT, options: { contentFormat: format }, payload: encodeContent(format, tree, path) };
  }

  #write(path: LwM2MPath, format: number | undefined, payload: Uint8Array): OutgoingResponse {
    const where = formatPath(path);
    if (pathLevel(path) === 'root') return this.#refuse('write', where, CoapCode.BAD_REQUEST);
    if (format === undefined) {
      this.steps.push(`write ${where} refused 4.00`);
      return diagnostic(CoapCode.BAD_REQUEST, 'Content-Format is missing');
    }
    if (!this.#options.supportedFormats.has(format)) {
      const code = this.#options.rejectFormatWith === '4.06' ? CoapCode.NOT_ACCEPTABLE : CoapCode.UNSUPPORTED_CONTENT_FORMAT;
      return this.#refuse('write', where, code, format);
    }
    const tree = decodeContent(format, payload, path);
    this.#store.write(path, tree);
    this.steps.push(`write ${where} (${format})`);
    this.formatsReceived.push(format);
    return { code: CoapCode.CHANGED };
  }

  #delete(path: LwM2MPath): OutgoingResponse {
    const where = formatPath(path);
    switch (this.#store.delete(path)) {
      case 'deleted':
        this.steps.push(`delete ${where}`);
        return { code: CoapCode.DELETED };
      case 'not-found':
        return this.#refuse('delete', where, CoapCode.NOT_FOUND);
      case 'protected':
        this.steps.push(`delete ${where} refused 4.00`);
        return diagnostic(CoapCode.BAD_REQUEST, 'the Bootstrap-Server Account and the Device object cannot be deleted');
      case 'bad-path':
        return this.#refuse('delete', where, CoapCode.BAD_REQUEST);
    }
  }

  /** Bootstrap-Finish: 2.04 when a Server Account exists, else 4.06 with the reason (Core 1.1 §5.2.7.6). */
  #finish(): OutgoingResponse {
    const problem = this.#store.finishDiagnostic();
    if (problem !== undefined) {
      this.lastFinishDiagnostic = problem;
      this.steps.push('finish refused 4.06');
      return diagnostic(CoapCode.NOT_ACCEPTABLE, problem);
    }
    this.steps.push('finish');
    this.#markFinished();
    return { code: CoapCode.CHANGED };
  }

  /** Records e.g. "write /0/1 (110) refused 4.15" and answers the bare code. */
  #refuse(operation: string, where: string, code: number, format?: number): OutgoingResponse {
    this.steps.push(`${operation} ${where}${format === undefined ? '' : ` (${format})`} refused ${formatCode(code)}`);
    return { code };
  }
}

function diagnostic(code: number, text: string): OutgoingResponse {
  return { code, options: { contentFormat: ContentFormat.TEXT }, payload: encoder.encode(text) };
}
