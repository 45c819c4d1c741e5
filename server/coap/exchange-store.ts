import type { CoapMessage } from '../../shared/coap/message.ts';
import type { CoapOptions } from '../../shared/coap/option.ts';
import { serializeCoapMessage } from '../../shared/coap/message.ts';
import type { Counters } from './counters.ts';
import { CoapClosedError, CoapResetError, CoapTimeoutError, CoapTransferError } from './errors.ts';
import { newToken, tokenKey } from './message-ids.ts';
import type { MessageIds } from './message-ids.ts';
import { Retransmission, maxTransmitWaitMs } from './retransmission.ts';
import type { TransmissionParameters } from './retransmission.ts';
import { peerKey } from './types.ts';
import type { CoapPeer } from './types.ts';

/** One request as the blockwise layers build it; the store adds Message ID and token. */
export interface RequestTemplate {
  readonly code: number;
  readonly options: CoapOptions;
  readonly payload: Uint8Array;
}

export interface ExchangeStoreOptions {
  readonly transmission: TransmissionParameters;
  /** How long we wait for a separate response after the empty ACK. */
  readonly separateResponseTimeoutMs: number;
  readonly maxPendingPerPeer: number;
  readonly messageIds: MessageIds;
  readonly counters: Counters;
  send(peer: CoapPeer, datagram: Uint8Array): void;
}

interface Exchange {
  readonly peerKey: string;
  readonly messageId: number;
  readonly tokenKey: string;
  readonly resolve: (message: CoapMessage) => void;
  readonly reject: (error: unknown) => void;
  readonly retransmission: Retransmission | undefined;
  timer: NodeJS.Timeout | undefined;
  release: () => void;
}

/**
 * Our requests to clients, from send to response. Responses are matched by peer and token,
 * never by token alone (tokens are only unique per endpoint pair); an empty ACK or a Reset by
 * peer and Message ID. Only responses are fed in here: a message with a request code is a
 * request even when it reuses one of our Message IDs and tokens, which real clients do.
 */
export class ExchangeStore {
  readonly #options: ExchangeStoreOptions;
  readonly #byToken = new Map<string, Exchange>();
  readonly #byMessageId = new Map<string, Exchange>();
  readonly #pendingPerPeer = new Map<string, number>();
  #closed = false;

  constructor(options: ExchangeStoreOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#byToken.size;
  }

  exchange(peer: CoapPeer, template: RequestTemplate, confirmable: boolean, signal?: AbortSignal): Promise<CoapMessage> {
    if (this.#closed) return Promise.reject(new CoapClosedError());
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const key = peerKey(peer);
    const pending = this.#pendingPerPeer.get(key) ?? 0;
    if (pending >= this.#options.maxPendingPerPeer) {
      return Promise.reject(new CoapTransferError(`${pending} requests already outstanding to the peer`));
    }
    const { transmission, counters } = this.#options;
    const token = newToken();
    const messageId = this.#options.messageIds.next();
    let datagram: Uint8Array;
    try {
      datagram = serializeCoapMessage({ type: confirmable ? 'CON' : 'NON', code: template.code, messageId, token, options: template.options, payload: template.payload });
    } catch (error) {
      return Promise.reject(error);
    }

    return new Promise<CoapMessage>((resolve, reject) => {
      const onAbort = (): void => finish(() => reject(signal!.reason));
      const finish = (settle: () => void): void => {
        exchange.release();
        settle();
      };
      const retransmission = confirmable
        ? new Retransmission(transmission, {
            send: () => this.#options.send(peer, datagram),
            onRetransmit: () => counters.increment('retransmissions'),
            onGiveUp: () => {
              counters.increment('timeouts');
              finish(() => reject(new CoapTimeoutError()));
            },
          })
        : undefined;
      const exchange: Exchange = {
        peerKey: key,
        messageId,
        tokenKey: tokenKey(token),
        resolve: (message) => finish(() => resolve(message)),
        reject: (error) => finish(() => reject(error)),
        retransmission,
        timer: undefined,
        release: () => {
          exchange.release = () => undefined;
          retransmission?.stop();
          if (exchange.timer !== undefined) clearTimeout(exchange.timer);
          signal?.removeEventListener('abort', onAbort);
          this.#remove(exchange);
        },
      };
      this.#byToken.set(`${key}|${exchange.tokenKey}`, exchange);
      this.#byMessageId.set(`${key}|${messageId}`, exchange);
      this.#pendingPerPeer.set(key, pending + 1);
      signal?.addEventListener('abort', onAbort, { once: true });
      counters.increment('requestsSent');
      if (retransmission !== undefined) {
        retransmission.start();
      } else {
        // A NON request has no ACK to wait for: give it as long as a CON would get.
        this.#options.send(peer, datagram);
        this.#wait(exchange, maxTransmitWaitMs(transmission));
      }
    });
  }

  /** An empty ACK: the peer will answer separately (RFC 7252 5.2.2). */
  acknowledged(peer: CoapPeer, messageId: number): boolean {
    const exchange = this.#byMessageId.get(`${peerKey(peer)}|${messageId}`);
    if (exchange === undefined) return false;
    exchange.retransmission?.stop();
    if (exchange.timer === undefined) this.#wait(exchange, this.#options.separateResponseTimeoutMs);
    return true;
  }

  reset(peer: CoapPeer, messageId: number): boolean {
    const exchange = this.#byMessageId.get(`${peerKey(peer)}|${messageId}`);
    if (exchange === undefined) return false;
    exchange.reject(new CoapResetError());
    return true;
  }

  /** A response; true when it answered one of our requests (and is now delivered). */
  response(peer: CoapPeer, message: CoapMessage): boolean {
    const key = peerKey(peer);
    const exchange = this.#byToken.get(`${key}|${tokenKey(message.token)}`);
    if (exchange === undefined) return false;
    // A piggybacked response must also carry our Message ID (RFC 7252 5.2.1).
    if (message.type === 'ACK' && message.messageId !== exchange.messageId) return false;
    exchange.resolve(message);
    return true;
  }

  close(): void {
    this.#closed = true;
    for (const exchange of [...this.#byToken.values()]) exchange.reject(new CoapClosedError());
  }

  #wait(exchange: Exchange, ms: number): void {
    exchange.timer = setTimeout(() => {
      this.#options.counters.increment('timeouts');
      exchange.reject(new CoapTimeoutError('CoAP request timed out waiting for the response'));
    }, ms);
    exchange.timer.unref();
  }

  #remove(exchange: Exchange): void {
    this.#byToken.delete(`${exchange.peerKey}|${exchange.tokenKey}`);
    this.#byMessageId.delete(`${exchange.peerKey}|${exchange.messageId}`);
    const pending = (this.#pendingPerPeer.get(exchange.peerKey) ?? 1) - 1;
    if (pending <= 0) this.#pendingPerPeer.delete(exchange.peerKey);
    else this.#pendingPerPeer.set(exchange.peerKey, pending);
  }
}
