import { randomBytes, randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import {
  CoapCode,
  codeClass,
  isRequestCode,
  isReservedCodeClass,
  parseCoapHeader,
  parseCoapMessage,
  serializeCoapMessage,
  unrecognizedCriticalOptions,
  type BlockOption,
  type BlockSize,
  type CoapMessage,
  type CoapOptions,
  type CoapType,
} from '../shared/coap/index.ts';
import { UdpLink, formatPeer, type DatagramLink, type PeerAddress } from './datagram-link.ts';
import { DtlsLink, type DtlsLinkOptions } from './dtls-link.ts';

export { formatPeer, type PeerAddress } from './datagram-link.ts';
export { DtlsHandshakeError, type DtlsCipherSuiteName } from './dtls-link.ts';

/**
 * A minimal CoAP peer (RFC 7252) for the simulated clients and the test LwM2M server, over plain
 * UDP or one DTLS session (datagram-link.ts, dtls-link.ts). It is written apart from server/ on
 * purpose: a gateway bug must not be mirrored here and cancel out. Both roles on one link: it
 * sends CON requests (retransmitted, Block2-reassembled) and answers incoming requests with
 * piggybacked ACKs (deduplicated by Message ID, Block1 reassembled, Block2 served from the whole
 * answer).
 */

export interface TransmissionParameters {
  /** ACK_TIMEOUT (RFC 7252 4.8): 2 s. */
  readonly ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR: 1.5. */
  readonly ackRandomFactor: number;
  /** MAX_RETRANSMIT: 4. */
  readonly maxRetransmit: number;
  /** How long to wait for a separate response after an empty ACK. */
  readonly separateResponseTimeoutMs: number;
  /** How long an answered request's Message ID is remembered (EXCHANGE_LIFETIME is 247 s). */
  readonly dedupLifetimeMs: number;
}

export const DEFAULT_TRANSMISSION: TransmissionParameters = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  separateResponseTimeoutMs: 30_000,
  dedupLifetimeMs: 247_000,
};

export interface OutgoingRequest {
  readonly code: number;
  readonly options?: CoapOptions;
  readonly payload?: Uint8Array;
}

export interface IncomingRequest {
  /** The request as received; for a Block1 transfer, the last block's message. */
  readonly message: CoapMessage;
  /** The whole body, reassembled when it came in Block1 blocks. */
  readonly payload: Uint8Array;
  readonly peer: PeerAddress;
}

export interface OutgoingResponse {
  readonly code: number;
  readonly options?: CoapOptions;
  readonly payload?: Uint8Array;
}

export type RequestHandler = (request: IncomingRequest) => OutgoingResponse | Promise<OutgoingResponse>;

export class CoapTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoapTimeoutError';
  }
}

interface PendingExchange {
  readonly messageId: number;
  readonly token: string;
  readonly bytes: Uint8Array;
  readonly peer: PeerAddress;
  readonly resolve: (message: CoapMessage) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** A CoAP ping: the Reset it draws is its answer. */
  readonly ping?: boolean;
}

interface Block1Transfer {
  readonly parts: Uint8Array[];
  received: number;
  nextNum: number;
}

/** A Block1 body larger than this is refused with 4.13 (a bootstrap write is a few KiB at most). */
const MAX_BODY_BYTES = 256 * 1024;
const DEFAULT_BLOCK_SIZE: BlockSize = 1024;
const EMPTY = new Uint8Array(0);

/** What `CoapTransport.overDtls` needs: the server, the PSK, and optionally suites and timings. */
export interface DtlsTransportOptions extends DtlsLinkOptions {
  readonly transmission?: Partial<TransmissionParameters>;
}

export class CoapTransport {
  readonly #link: DatagramLink;
  readonly #parameters: TransmissionParameters;
  /** Our requests awaiting an ACK. By Message ID alone: a host name and the address it resolved to must match. */
  readonly #byMessageId = new Map<number, PendingExchange>();
  readonly #byToken = new Map<string, PendingExchange>();
  /** Incoming requests by peer and Message ID: the answer, or undefined while it is being made. */
  readonly #answered = new Map<string, { bytes: Uint8Array | undefined; at: number }>();
  readonly #block1 = new Map<string, Block1Transfer>();
  /** Answers being made: close() lets them go out first (a Bootstrap-Finish answer, say). */
  readonly #serving = new Set<Promise<void>>();
  #handler: RequestHandler | undefined;
  #closing = false;
  /** dgram sends resolve the address asynchronously: a socket closed before that drops the datagram. */
  #unsent = 0;
  readonly #drainWaiters: (() => void)[] = [];
  #nextMessageId = randomInt(0, 0x10000);
  #closed = false;

  private constructor(link: DatagramLink, parameters: TransmissionParameters) {
    this.#link = link;
    this.#parameters = parameters;
    link.receive((datagram, peer) => this.#receive(datagram, peer));
    link.onDown((reason) => this.#failPending(reason));
  }

  /** Binds a UDP socket; the family follows `host` (an IPv6 literal gives udp6). Port 0 picks one. */
  static async open(options: { host?: string; port?: number; transmission?: Partial<TransmissionParameters> } = {}): Promise<CoapTransport> {
    const link = await UdpLink.bind(options.host ?? '0.0.0.0', options.port ?? 0);
    return new CoapTransport(link, { ...DEFAULT_TRANSMISSION, ...options.transmission });
  }

  /**
   * A DTLS session with PSK to `server` (coaps://), the handshake done before this resolves; a
   * failed handshake rejects with DtlsHandshakeError. Requests and answers go to that server only.
   */
  static async overDtls(options: DtlsTransportOptions): Promise<CoapTransport> {
    const link = await DtlsLink.connect(options);
    return new CoapTransport(link, { ...DEFAULT_TRANSMISSION, ...options.transmission });
  }

  /** A socket able to reach `peer`: udp6 for an IPv6 literal, udp4 otherwise. */
  static forPeer(peer: PeerAddress, transmission?: Partial<TransmissionParameters>): Promise<CoapTransport> {
    return CoapTransport.open({ host: isIPv6(peer.host) ? '::' : '0.0.0.0', ...(transmission === undefined ? {} : { transmission }) });
  }

  get port(): number {
    return this.#link.localPort;
  }

  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /**
   * Sends a CON request and resolves with its response. A response in Block2 blocks is
   * fetched block by block and resolved once, with the whole payload and no Block2 option.
   */
  async request(peer: PeerAddress, request: OutgoingRequest): Promise<CoapMessage> {
    let response = await this.#exchange(peer, request.code, request.options ?? {}, request.payload ?? EMPTY);
    const first = response;
    const block = response.options.block2;
    if (block === undefined || (block.num === 0 && !block.more)) return stripBlock2(response);
    if (block.num !== 0) throw new Error(`response started at Block2 number ${block.num}`);
    const parts: Uint8Array[] = [response.payload];
    let received = response.payload.length;
    let current: BlockOption = block;
    while (current.more) {
      if (received > MAX_BODY_BYTES) throw new Error(`Block2 body exceeds ${MAX_BODY_BYTES} bytes`);
      const next: BlockOption = { num: current.num + 1, more: false, size: current.size };
      response = await this.#exchange(peer, request.code, { ...request.options, block2: next }, EMPTY);
      const got = response.options.block2;
      if (codeClass(response.code) !== 2) return response;
      if (got === undefined || got.num !== next.num) throw new Error(`expected Block2 number ${next.num}`);
      parts.push(response.payload);
      received += response.payload.length;
      current = got;
    }
    return stripBlock2({ ...first, payload: concat(parts, received) });
  }

  /**
   * A CoAP ping (RFC 7252 4.3: an Empty CON, answered with a Reset): resolves when the peer
   * answers, rejects with CoapTimeoutError when it never does.
   */
  ping(peer: PeerAddress): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('transport closed'));
    const messageId = this.#messageId();
    const bytes = serializeCoapMessage({ type: 'CON', code: CoapCode.EMPTY, messageId, token: EMPTY, options: {}, payload: EMPTY });
    return new Promise<void>((resolve, reject) => {
      const exchange: PendingExchange = { messageId, token: `ping ${messageId}`, bytes, peer, resolve: () => resolve(), reject, timer: undefined, ping: true };
      this.#byMessageId.set(messageId, exchange);
      this.#byToken.set(exchange.token, exchange);
      this.#retransmit(exchange, 0, this.#initialTimeout());
    });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await Promise.all(this.#serving);
    if (this.#unsent > 0) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    this.#closed = true;
    this.#failPending(new Error('transport closed'));
    await this.#link.close();
  }

  #failPending(reason: Error): void {
    for (const exchange of this.#byToken.values()) {
      clearTimeout(exchange.timer);
      exchange.reject(reason);
    }
    this.#byToken.clear();
    this.#byMessageId.clear();
  }

  #exchange(peer: PeerAddress, code: number, options: CoapOptions, payload: Uint8Array): Promise<CoapMessage> {
    if (this.#closed) return Promise.reject(new Error('transport closed'));
    const messageId = this.#messageId();
    const token = randomBytes(4);
    const bytes = serializeCoapMessage({ type: 'CON', code, messageId, token, options, payload });
    return new Promise<CoapMessage>((resolve, reject) => {
      const exchange: PendingExchange = {
        messageId,
        token: hex(token),
        bytes,
        peer,
        resolve,
        reject,
        timer: undefined,
      };
      this.#byMessageId.set(messageId, exchange);
      this.#byToken.set(exchange.token, exchange);
      this.#retransmit(exchange, 0, this.#initialTimeout());
    });
  }

  #retransmit(exchange: PendingExchange, attempt: number, timeoutMs: number): void {
    this.#send(exchange.bytes, exchange.peer);
    exchange.timer = setTimeout(() => {
      if (attempt < this.#parameters.maxRetransmit) {
        this.#retransmit(exchange, attempt + 1, timeoutMs * 2);
        return;
      }
      this.#finish(exchange);
      exchange.reject(new CoapTimeoutError(`no answer from ${formatPeer(exchange.peer)} after ${attempt + 1} transmissions`));
    }, timeoutMs);
  }

  #initialTimeout(): number {
    const { ackTimeoutMs, ackRandomFactor } = this.#parameters;
    return ackTimeoutMs * (1 + Math.random() * (ackRandomFactor - 1));
  }

  #finish(exchange: PendingExchange): void {
    clearTimeout(exchange.timer);
    this.#byMessageId.delete(exchange.messageId);
    this.#byToken.delete(exchange.token);
  }

  #messageId(): number {
    this.#nextMessageId = (this.#nextMessageId + 1) & 0xffff;
    return this.#nextMessageId;
  }

  #send(bytes: Uint8Array, peer: PeerAddress): void {
    if (this.#closed) return;
    this.#unsent += 1;
    this.#link.send(bytes, peer, () => {
      this.#unsent -= 1;
      if (this.#unsent === 0) for (const drained of this.#drainWaiters.splice(0)) drained();
    });
  }

  #sendEmpty(type: CoapType, messageId: number, peer: PeerAddress): void {
    this.#send(serializeCoapMessage({ type, code: CoapCode.EMPTY, messageId, token: EMPTY, options: {}, payload: EMPTY }), peer);
  }

  #receive(datagram: Uint8Array, peer: PeerAddress): void {
    if (this.#closed) return;
    let message: CoapMessage;
    try {
      message = parseCoapMessage(datagram);
    } catch {
      this.#rejectMalformed(datagram, peer);
      return;
    }
    if (isReservedCodeClass(message.code)) {
      if (message.type === 'CON') this.#sendEmpty('RST', message.messageId, peer);
      return;
    }
    if (isRequestCode(message.code)) {
      if (this.#closing) return;
      const serving = this.#serve(message, peer).finally(() => this.#serving.delete(serving));
      this.#serving.add(serving);
      return;
    }
    this.#onResponseOrEmpty(message, peer);
  }

  /** A request whose options do not parse gets 4.00 (the brief for the simulator); anything else a Reset. */
  #rejectMalformed(datagram: Uint8Array, peer: PeerAddress): void {
    const header = parseCoapHeader(datagram);
    if (header === undefined || header.type !== 'CON') return;
    if (isRequestCode(header.code) && header.token !== undefined) {
      this.#send(
        serializeCoapMessage({ type: 'ACK', code: CoapCode.BAD_REQUEST, messageId: header.messageId, token: header.token, options: {}, payload: EMPTY }),
        peer,
      );
      return;
    }
    this.#sendEmpty('RST', header.messageId, peer);
  }

  #onResponseOrEmpty(message: CoapMessage, peer: PeerAddress): void {
    if (message.type === 'ACK' || message.type === 'RST') {
      const exchange = this.#byMessageId.get(message.messageId);
      if (message.code === CoapCode.EMPTY) {
        if (exchange === undefined) return;
        if (exchange.ping === true) {
          this.#finish(exchange);
          exchange.resolve(message);
          return;
        }
        if (message.type === 'RST') {
          this.#finish(exchange);
          exchange.reject(new Error(`${formatPeer(peer)} answered with a Reset`));
          return;
        }
        // Empty ACK: the response comes separately (RFC 7252 5.2.2); stop retransmitting.
        clearTimeout(exchange.timer);
        this.#byMessageId.delete(message.messageId);
        exchange.timer = setTimeout(() => {
          this.#finish(exchange);
          exchange.reject(new CoapTimeoutError(`no separate response from ${formatPeer(peer)}`));
        }, this.#parameters.separateResponseTimeoutMs);
        return;
      }
      if (exchange !== undefined && exchange.token === hex(message.token)) {
        this.#finish(exchange);
        exchange.resolve(message);
      }
      return;
    }
    if (message.code === CoapCode.EMPTY) {
      // A CoAP ping (CON Empty) is answered with a Reset (RFC 7252 4.3).
      if (message.type === 'CON') this.#sendEmpty('RST', message.messageId, peer);
      return;
    }
    // A separate response (CON or NON), matched by token; a CON one is acknowledged even when
    // it is a duplicate of a response already taken.
    if (message.type === 'CON') this.#sendEmpty('ACK', message.messageId, peer);
    const exchange = this.#byToken.get(hex(message.token));
    if (exchange === undefined) return;
    this.#finish(exchange);
    exchange.resolve(message);
  }

  async #serve(message: CoapMessage, peer: PeerAddress): Promise<void> {
    const key = messageKey(peer, message.messageId);
    this.#pruneAnswered();
    const seen = this.#answered.get(key);
    if (seen !== undefined) {
      // A duplicate: repeat the answer, or stay silent while it is being made (RFC 7252 4.5).
      if (seen.bytes !== undefined) this.#send(seen.bytes, peer);
      return;
    }
    this.#answered.set(key, { bytes: undefined, at: Date.now() });
    const response = await this.#answer(message, peer);
    const envelope = {
      type: message.type === 'CON' ? ('ACK' as const) : ('NON' as const),
      messageId: message.type === 'CON' ? message.messageId : this.#messageId(),
      token: message.token,
    };
    let bytes: Uint8Array;
    try {
      bytes = serializeCoapMessage({ ...envelope, code: response.code, options: response.options ?? {}, payload: response.payload ?? EMPTY });
    } catch {
      bytes = serializeCoapMessage({ ...envelope, code: CoapCode.INTERNAL_SERVER_ERROR, options: {}, payload: EMPTY });
    }
    this.#answered.set(key, { bytes, at: Date.now() });
    this.#send(bytes, peer);
  }

  async #answer(message: CoapMessage, peer: PeerAddress): Promise<OutgoingResponse> {
    if (unrecognizedCriticalOptions(message.options).length > 0) return { code: CoapCode.BAD_OPTION };
    const body = this.#reassembleBlock1(message, peer);
    if ('code' in body) return body;
    const handler = this.#handler;
    if (handler === undefined) return { code: CoapCode.NOT_FOUND };
    let response: OutgoingResponse;
    try {
      response = await handler({ message, payload: body.payload, peer });
    } catch {
      return { code: CoapCode.INTERNAL_SERVER_ERROR };
    }
    const block1 = message.options.block1;
    if (block1 !== undefined) response = { ...response, options: { ...response.options, block1: { ...block1, more: false } } };
    return serveBlock2(response, message.options.block2);
  }

  /**
   * RFC 7959 2.5 (atomic Block1 on the server side): blocks are collected per peer and URI,
   * each but the last answered 2.31 Continue; a gap gives 4.08.
   */
  #reassembleBlock1(message: CoapMessage, peer: PeerAddress): { payload: Uint8Array } | OutgoingResponse {
    const block = message.options.block1;
    if (block === undefined) return { payload: message.payload };
    const key = `${formatPeer(peer)} ${message.code} ${(message.options.uriPath ?? []).join('/')}`;
    let transfer = this.#block1.get(key);
    if (block.num === 0) {
      transfer = { parts: [], received: 0, nextNum: 0 };
      this.#block1.set(key, transfer);
    }
    if (transfer === undefined || block.num !== transfer.nextNum) {
      this.#block1.delete(key);
      return { code: CoapCode.REQUEST_ENTITY_INCOMPLETE };
    }
    transfer.parts.push(message.payload);
    transfer.received += message.payload.length;
    transfer.nextNum += 1;
    if (transfer.received > MAX_BODY_BYTES) {
      this.#block1.delete(key);
      return { code: CoapCode.REQUEST_ENTITY_TOO_LARGE, options: { size1: MAX_BODY_BYTES } };
    }
    if (block.more) return { code: CoapCode.CONTINUE, options: { block1: block } };
    this.#block1.delete(key);
    return { payload: concat(transfer.parts, transfer.received) };
  }

  #pruneAnswered(): void {
    const oldest = Date.now() - this.#parameters.dedupLifetimeMs;
    // Insertion order is age order, so pruning stops at the first entry still alive.
    for (const [key, entry] of this.#answered) {
      if (entry.at >= oldest) break;
      this.#answered.delete(key);
    }
  }
}

/** Slices an answer into the Block2 block the request asked for, or block 0 when it is too big. */
function serveBlock2(response: OutgoingResponse, requested: BlockOption | undefined): OutgoingResponse {
  const payload = response.payload ?? EMPTY;
  const size = requested?.size ?? DEFAULT_BLOCK_SIZE;
  if (requested === undefined && payload.length <= size) return response;
  if (codeClass(response.code) !== 2) return response;
  const num = requested?.num ?? 0;
  const start = num * size;
  if (start > payload.length || (start === payload.length && num > 0)) return { code: CoapCode.BAD_OPTION };
  const more = start + size < payload.length;
  return {
    ...response,
    options: { ...response.options, block2: { num, more, size }, ...(num === 0 ? { size2: payload.length } : {}) },
    payload: payload.subarray(start, start + size),
  };
}

function stripBlock2(message: CoapMessage): CoapMessage {
  if (message.options.block2 === undefined) return message;
  const options = { ...message.options };
  delete options.block2;
  return { ...message, options };
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function messageKey(peer: PeerAddress, messageId: number): string {
  return `${formatPeer(peer)}#${messageId}`;
}
