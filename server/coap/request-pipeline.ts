import { CoapCode, isResponseCode, describeCode } from '../../shared/coap/code.ts';
import type { BlockOption, BlockSize } from '../../shared/coap/block.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { OptionNumber, unrecognizedCriticalOptions } from '../../shared/coap/option.ts';
import type { CoapOptions } from '../../shared/coap/option.ts';
import { uriPathString } from '../../shared/coap/uri.ts';
import type { Block1Receiver } from './block1-receiver.ts';
import { responseBlock } from './block2-server.ts';
import type { Block2Cache } from './block2-server.ts';
import type { Counters } from './counters.ts';
import type { PeerState } from './peer-table.ts';
import type { CoapPeer, IncomingRequest, OutgoingResponse } from './types.ts';

/** What goes back to the client, before the message layer picks ACK or NON. */
export interface ResponseParts {
  readonly code: number;
  readonly options: CoapOptions;
  readonly payload: Uint8Array;
}

export interface RequestPipelineOptions {
  readonly blockSize: BlockSize;
  readonly block1: Block1Receiver;
  readonly block2: Block2Cache;
  readonly counters: Counters;
  onRequest(request: IncomingRequest): Promise<OutgoingResponse> | OutgoingResponse;
  onWarning(message: string): void;
  now(): number;
}

const EMPTY = new Uint8Array(0);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/**
 * From a deduplicated request to its response: option checks (RFC 7252 5.4.1), Block1
 * reassembly and Block2 slicing (RFC 7959) around the application's onRequest.
 * Undefined means: answer nothing.
 */
export class RequestPipeline {
  readonly #options: RequestPipelineOptions;

  constructor(options: RequestPipelineOptions) {
    this.#options = options;
  }

  async respond(peer: CoapPeer, request: CoapMessage, state: PeerState): Promise<ResponseParts | undefined> {
    const { counters, blockSize } = this.#options;
    const critical = unrecognizedCriticalOptions(request.options);
    if (critical.length > 0) {
      counters.increment('badOption');
      // A NON request is rejected silently; we are no proxy (RFC 7252 5.10.2).
      if (request.type === 'NON') return undefined;
      if (critical.some((option) => option.number === OptionNumber.PROXY_URI || option.number === OptionNumber.PROXY_SCHEME)) {
        return { code: CoapCode.PROXYING_NOT_SUPPORTED, options: {}, payload: EMPTY };
      }
      return { code: CoapCode.BAD_OPTION, options: {}, payload: text(`unrecognized critical option ${critical[0]!.number}`) };
    }

    const now = this.#options.now();
    const resource = resourceKey(request);
    let message = request;
    let block1Echo: BlockOption | undefined;
    const block1 = request.options.block1;
    if (block1 !== undefined) {
      const outcome = this.#options.block1.receive(state.block1, resource, block1, request.payload, request.options.size1, now);
      if (outcome.kind === 'continue') {
        counters.increment('block1Continue');
        return { code: CoapCode.CONTINUE, options: { block1: outcome.block }, payload: EMPTY };
      }
      if (outcome.kind === 'reject') {
        counters.increment('block1Rejected');
        return { code: outcome.code, options: outcome.size1 === undefined ? {} : { size1: outcome.size1 }, payload: text(outcome.reason) };
      }
      message = { ...request, options: withoutBlock1(request.options), payload: outcome.payload };
      block1Echo = outcome.block;
    }

    const asked = request.options.block2;
    const size = Math.min(blockSize, asked?.size ?? blockSize) as BlockSize;
    const num = asked?.num ?? 0;
    let response = num > 0 ? this.#options.block2.lookup(state.block2, resource, now) : undefined;
    response ??= await this.#handle(peer, message);

    let options: CoapOptions = {
      ...(response.contentFormat !== undefined && { contentFormat: response.contentFormat }),
      ...(response.locationPath !== undefined && response.locationPath.length > 0 && { locationPath: response.locationPath }),
      ...(block1Echo !== undefined && { block1: block1Echo }),
    };
    const payload = response.payload ?? EMPTY;
    if (payload.length <= size && num === 0) return { code: response.code, options, payload };

    if (num === 0) this.#options.block2.store(state.block2, resource, response, this.#options.now());
    const block = responseBlock(payload, num, size);
    if (block === undefined) {
      return { code: CoapCode.BAD_OPTION, options: {}, payload: text(`Block2 #${num} is past the end of the ${payload.length}-byte body`) };
    }
    counters.increment('block2Served');
    options = { ...options, block2: block.block2, size2: block.size2 };
    return { code: response.code, options, payload: block.payload };
  }

  async #handle(peer: CoapPeer, message: CoapMessage): Promise<OutgoingResponse> {
    const { counters } = this.#options;
    counters.increment('requestsHandled');
    try {
      const response = await this.#options.onRequest({ peer, message });
      if (!isResponseCode(response.code)) {
        throw new Error(`handler answered ${describeCode(response.code)}, which is not a response code`);
      }
      return response;
    } catch (error) {
      counters.increment('handlerErrors');
      this.#options.onWarning(`request handler failed: ${error instanceof Error ? error.message : String(error)}`);
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    }
  }
}

/** Blocks of one body belong to the same method and request URI (RFC 7959 2.4, 2.5). */
function resourceKey(request: CoapMessage): string {
  return `${request.code} ${uriPathString(request.options)}?${(request.options.uriQuery ?? []).join('&')}`;
}

/** The handler sees the reassembled body, not the last block's Block1 and Size1. */
function withoutBlock1(options: CoapOptions): CoapOptions {
  const copy: { -readonly [K in keyof CoapOptions]: CoapOptions[K] } = { ...options };
  delete copy.block1;
  delete copy.size1;
  return copy;
}
