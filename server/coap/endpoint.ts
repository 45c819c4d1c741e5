import { CoapCode, isRequestCode, isReservedCodeClass } from '../../shared/coap/code.ts';
import { isBlockSize } from '../../shared/coap/block.ts';
import type { BlockSize } from '../../shared/coap/block.ts';
import { parseCoapHeader } from '../../shared/coap/header.ts';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { unrecognizedCriticalOptions } from '../../shared/coap/option.ts';
import { Block1Receiver } from './block1-receiver.ts';
import { sendWithBlock1 } from './block1-sender.ts';
import type { Exchange } from './block1-sender.ts';
import { fetchRemainingBlock2 } from './block2-fetcher.ts';
import { Block2Cache } from './block2-server.ts';
import { Counters } from './counters.ts';
import { ExchangeStore } from './exchange-store.ts';
import { MessageIds } from './message-ids.ts';
import { PeerTable } from './peer-table.ts';
import type { PeerState } from './peer-table.ts';
import { RateLimiter } from './rate-limiter.ts';
import { RequestPipeline } from './request-pipeline.ts';
import type { ResponseParts } from './request-pipeline.ts';
import { requestTemplate } from './request-template.ts';
import type { CoapTransport } from './transport.ts';
import { udpTransport } from './udp-transport.ts';
import { describePeer, peerKey } from './types.ts';
import type { CoapEndpointOptions, CoapPeer, CoapResponse, OutgoingRequest } from './types.ts';

export type { CoapEndpointOptions, CoapPeer, CoapResponse, IncomingRequest, OutgoingRequest, OutgoingResponse, RateLimit } from './types.ts';

const EMPTY = new Uint8Array(0);

/**
 * The gateway's CoAP-over-UDP endpoint (RFC 7252, blockwise per RFC 7959): serves client
 * requests through `onRequest` and sends our own requests to clients over the socket the
 * client used. Everything it keeps per peer is bounded and expires.
 */
export class CoapEndpoint {
  readonly #options: CoapEndpointOptions;
  readonly #counters = new Counters();
  readonly #messageIds = new MessageIds();
  readonly #blockSize: BlockSize;
  readonly #lifetimeMs: number;
  readonly #maxPendingPerPeer: number;
  readonly #limiter: RateLimiter;
  readonly #peers: PeerTable;
  readonly #exchanges: ExchangeStore;
  readonly #pipeline: RequestPipeline;
  readonly #sweeper: NodeJS.Timeout;
  #transport: CoapTransport | undefined;
  #closed = false;

  static async open(options: CoapEndpointOptions): Promise<CoapEndpoint> {
    const endpoint = new CoapEndpoint(options);
    const host4 = options.host4 === undefined ? '0.0.0.0' : options.host4 === null || options.host4 === false ? undefined : options.host4;
    const host6 = options.host6 === undefined ? '::' : options.host6 === false ? undefined : options.host6;
    if (host4 === undefined && host6 === undefined) {
      endpoint.#stop();
      throw new TypeError('CoAP endpoint needs IPv4 or IPv6');
    }
    try {
      endpoint.#transport = await (options.transport ?? udpTransport)(
        { port: options.port, host4, host6 },
        { receive: (datagram, peer) => endpoint.#onDatagram(datagram, peer), warn: (message) => endpoint.#warn(message) },
      );
    } catch (error) {
      endpoint.#stop();
      throw error;
    }
    return endpoint;
  }

  private constructor(options: CoapEndpointOptions) {
    this.#options = options;
    const blockSize = options.blockSize ?? 1024;
    if (!isBlockSize(blockSize)) throw new RangeError('blockSize must be a power of two 16..1024');
    this.#blockSize = blockSize;
    this.#lifetimeMs = options.exchangeLifetimeMs ?? 247_000;
    this.#maxPendingPerPeer = options.maxPendingPerPeer ?? 16;
    const maxPeers = options.maxPeers ?? 10_000;
    const transmission = {
      ackTimeoutMs: options.ackTimeoutMs ?? 2000,
      ackRandomFactor: options.ackRandomFactor ?? 1.5,
      maxRetransmit: options.maxRetransmit ?? 4,
    };
    if (!(transmission.ackTimeoutMs > 0) || !(transmission.ackRandomFactor >= 1) || !(transmission.maxRetransmit >= 0)) {
      throw new RangeError('ackTimeoutMs > 0, ackRandomFactor >= 1 and maxRetransmit >= 0 are required');
    }
    this.#limiter = new RateLimiter(options.rateLimit ?? { perSecond: 200, burst: 400 }, maxPeers);
    // Partial bodies and large representations are useful for seconds, not for EXCHANGE_LIFETIME.
    const transferLifetimeMs = Math.min(this.#lifetimeMs, 60_000);
    const block1 = new Block1Receiver({
      maxBodySize: options.maxRequestBodySize ?? 64 * 1024,
      preferredSize: blockSize,
      lifetimeMs: transferLifetimeMs,
      maxTransfersPerPeer: 2,
      maxTotalBytes: 16 * 1024 * 1024,
    });
    const block2 = new Block2Cache({ lifetimeMs: transferLifetimeMs, maxPerPeer: 4, maxTotalBytes: 16 * 1024 * 1024 });
    this.#peers = new PeerTable({ maxPeers, maxDedupPerPeer: 256, maxDedupTotal: 20_000 }, block1, block2, () => this.#counters.increment('peerEvictions'));
    this.#exchanges = new ExchangeStore({
      transmission,
      separateResponseTimeoutMs: this.#lifetimeMs,
      maxPendingPerPeer: this.#maxPendingPerPeer,
      messageIds: this.#messageIds,
      counters: this.#counters,
      send: (peer, datagram) => this.#send(peer, datagram),
    });
    this.#pipeline = new RequestPipeline({
      blockSize,
      block1,
      block2,
      counters: this.#counters,
      onRequest: options.onRequest,
      onWarning: (message) => this.#warn(message),
      now: () => performance.now(),
    });
    const sweepMs = Math.max(50, Math.min(10_000, this.#lifetimeMs / 4));
    this.#sweeper = setInterval(() => this.#peers.sweep(performance.now()), sweepMs);
    this.#sweeper.unref();
  }

  address(family: 'IPv4' | 'IPv6'): { address: string; port: number } | undefined {
    if (this.#closed) return undefined;
    return this.#transport?.address(family);
  }

  /**
   * Sends a request to a client and resolves with its response, Block1 and Block2 handled.
   * Rejects with CoapTimeoutError when retransmissions are exhausted, CoapResetError, or the
   * signal's reason when aborted.
   */
  async request(peer: CoapPeer, request: OutgoingRequest, options: { confirmable?: boolean; signal?: AbortSignal } = {}): Promise<CoapResponse> {
    const template = requestTemplate(request);
    const confirmable = options.confirmable ?? true;
    const exchange: Exchange = (next) => this.#exchanges.exchange(peer, next, confirmable, options.signal);
    const blockwise = (request.method === 'PUT' || request.method === 'POST') && template.payload.length > this.#blockSize;
    let message = blockwise ? await sendWithBlock1(exchange, template, this.#blockSize) : await exchange(template);
    // A client with a smaller buffer answers 4.13 to a body that fits our block size, naming the
    // size it takes in Block1 (RFC 7959 2.9.3): send it again in blocks of that size.
    const asked = message.options.block1;
    if (!blockwise && message.code === CoapCode.REQUEST_ENTITY_TOO_LARGE && asked !== undefined && asked.size < template.payload.length) {
      message = await sendWithBlock1(exchange, template, asked.size);
    }
    let payload = message.payload;
    if (request.method === 'GET' && message.options.block2?.more === true) {
      ({ message, payload } = await fetchRemainingBlock2(exchange, template, message, this.#options.maxResponseBodySize ?? 1024 * 1024));
    }
    return { code: message.code, contentFormat: message.options.contentFormat, payload, message };
  }

  counters(): Readonly<Record<string, number>> {
    return { ...this.#counters.snapshot(), peers: this.#peers.size, pendingRequests: this.#exchanges.size };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop();
    await this.#transport?.close();
  }

  #stop(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#exchanges.close();
    this.#peers.clear();
    this.#limiter.clear();
  }

  #onDatagram(bytes: Uint8Array, peer: CoapPeer): void {
    if (this.#closed) return;
    this.#counters.increment('received');
    let message: CoapMessage;
    try {
      message = parseCoapMessage(bytes);
    } catch {
      this.#reject(peer, parseCoapHeader(bytes));
      return;
    }
    try {
      this.#dispatch(peer, message);
    } catch (error) {
      // A bug of ours must not take the socket down with it.
      this.#warn(`dropped a message from ${describePeer(peer)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** RFC 7252 4.2/4.3: a message with a format error is rejected, a CON one with a Reset. */
  #reject(peer: CoapPeer, header: Pick<CoapMessage, 'type' | 'messageId'> | undefined): void {
    this.#counters.increment('malformed');
    if (header?.type !== 'CON') return;
    if (!this.#limiter.allow(peer.address)) {
      this.#counters.increment('rateLimited');
      return;
    }
    this.#sendReset(peer, header.messageId);
  }

  #dispatch(peer: CoapPeer, message: CoapMessage): void {
    const { type, code } = message;
    if (isReservedCodeClass(code)) {
      this.#reject(peer, message);
      return;
    }
    if (code === CoapCode.EMPTY) {
      this.#empty(peer, message);
      return;
    }
    if (isRequestCode(code)) {
      // Class 0 is a request even when its Message ID and token are those of one of ours.
      if (type === 'ACK' || type === 'RST') {
        this.#counters.increment('malformed');
        return;
      }
      if (!this.#limiter.allow(peer.address)) {
        this.#counters.increment('rateLimited');
        return;
      }
      this.#request(peer, message);
      return;
    }
    this.#response(peer, message);
  }

  #empty(peer: CoapPeer, message: CoapMessage): void {
    switch (message.type) {
      case 'CON':
        // A CoAP ping (RFC 7252 4.3).
        if (!this.#limiter.allow(peer.address)) {
          this.#counters.increment('rateLimited');
          return;
        }
        this.#counters.increment('pings');
        this.#sendReset(peer, message.messageId);
        return;
      case 'ACK':
        this.#exchanges.acknowledged(peer, message.messageId);
        return;
      case 'RST':
        this.#counters.increment('resetReceived');
        this.#exchanges.reset(peer, message.messageId);
        return;
      case 'NON':
        this.#counters.increment('malformed');
        return;
    }
  }

  #request(peer: CoapPeer, message: CoapMessage): void {
    const now = performance.now();
    const state = this.#peers.get(peerKey(peer));
    if (this.#isDuplicate(peer, message, state, now)) return;
    if (state.handling >= this.#maxPendingPerPeer) {
      // Not remembered, so the client's retransmission is served once we have caught up.
      this.#counters.increment('overloaded');
      return;
    }
    this.#peers.remember(state, message.messageId, now + this.#lifetimeMs);
    state.handling += 1;
    this.#pipeline
      .respond(peer, message, state)
      .then(
        (parts) => this.#reply(peer, message, state, parts),
        (error: unknown) => this.#warn(`request from ${describePeer(peer)} failed: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        state.handling -= 1;
      });
  }

  #isDuplicate(peer: CoapPeer, message: CoapMessage, state: PeerState | undefined, now: number): boolean {
    const seen = state?.dedup.lookup(message.messageId, now);
    if (seen === undefined) return false;
    this.#counters.increment('duplicates');
    if (seen.reply !== undefined && message.type === 'CON') this.#send(peer, seen.reply);
    return true;
  }

  #reply(peer: CoapPeer, request: CoapMessage, state: PeerState, parts: ResponseParts | undefined): void {
    if (this.#closed || parts === undefined) return;
    const confirmable = request.type === 'CON';
    const header = { type: confirmable ? ('ACK' as const) : ('NON' as const), messageId: confirmable ? request.messageId : this.#messageIds.next(), token: request.token };
    let datagram: Uint8Array;
    try {
      datagram = serializeCoapMessage({ ...header, ...parts });
    } catch (error) {
      // The handler's options did not encode (a Location-Path segment too long, say).
      this.#counters.increment('handlerErrors');
      this.#warn(`response to ${describePeer(peer)} does not encode: ${error instanceof Error ? error.message : String(error)}`);
      datagram = serializeCoapMessage({ ...header, code: CoapCode.INTERNAL_SERVER_ERROR, options: {}, payload: EMPTY });
    }
    state.dedup.complete(request.messageId, datagram);
    this.#counters.increment(confirmable ? 'piggybacked' : 'nonResponses');
    this.#send(peer, datagram);
  }

  #response(peer: CoapPeer, message: CoapMessage): void {
    const { type } = message;
    if (type === 'RST') {
      this.#counters.increment('malformed');
      return;
    }
    const now = performance.now();
    const key = peerKey(peer);
    if (type !== 'ACK' && this.#isDuplicate(peer, message, this.#peers.peek(key), now)) return;
    // RFC 7252 5.4.1: a response with an unrecognized critical option is rejected.
    const rejected = unrecognizedCriticalOptions(message.options).length > 0;
    if (rejected) this.#counters.increment('badOption');
    const matched = !rejected && this.#exchanges.response(peer, message);
    if (!matched) {
      if (!rejected) this.#counters.increment('unknownResponses');
      if (type === 'CON') this.#sendReset(peer, message.messageId);
      return;
    }
    if (type === 'ACK') return;
    this.#counters.increment('separateResponses');
    if (type === 'CON') {
      const ack = serializeCoapMessage({ type: 'ACK', code: CoapCode.EMPTY, messageId: message.messageId, token: EMPTY, options: {}, payload: EMPTY });
      const state = this.#peers.get(key);
      this.#peers.remember(state, message.messageId, now + this.#lifetimeMs);
      state.dedup.complete(message.messageId, ack);
      this.#send(peer, ack);
    }
  }

  #sendReset(peer: CoapPeer, messageId: number): void {
    this.#counters.increment('resetSent');
    this.#send(peer, serializeCoapMessage({ type: 'RST', code: CoapCode.EMPTY, messageId, token: EMPTY, options: {}, payload: EMPTY }));
  }

  #send(peer: CoapPeer, datagram: Uint8Array): void {
    if (this.#closed) return;
    this.#transport?.send(peer, datagram, (message) => {
      this.#counters.increment('sendErrors');
      this.#warn(`send to ${describePeer(peer)} failed: ${message}`);
    });
  }

  #warn(message: string): void {
    this.#options.onWarning?.(message);
  }
}
