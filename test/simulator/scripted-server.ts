import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { CoapCode, parseCoapMessage, serializeCoapMessage, type CoapMessage, type CoapOptions } from '../../shared/coap/index.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import { integerValue, booleanValue, opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';

/**
 * A bootstrap server played by the test, on a raw dgram socket with only shared/coap: nothing of
 * simulator/transport.ts, so a bug there cannot hide itself. The test reads the client's requests
 * one by one, answers them, and sends its own requests to the client.
 */
export interface Peer {
  readonly address: string;
  readonly port: number;
}

export interface ReceivedRequest {
  readonly message: CoapMessage;
  readonly peer: Peer;
}

const EMPTY = new Uint8Array(0);

export class ScriptedServer {
  readonly socket: Socket;
  readonly #requests: ReceivedRequest[] = [];
  readonly #requestWaiters: { resolve: (request: ReceivedRequest) => void; reject: (error: Error) => void }[] = [];
  readonly #acks = new Map<number, (message: CoapMessage) => void>();
  /** Every datagram from the client, parsed, in order: for asserting retransmissions and dedup. */
  readonly received: CoapMessage[] = [];
  #mid = 0x4000;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (datagram, remote) => {
      const message = parseCoapMessage(datagram);
      this.received.push(message);
      if (message.type === 'ACK' || message.type === 'RST') {
        this.#acks.get(message.messageId)?.(message);
        this.#acks.delete(message.messageId);
        return;
      }
      const request = { message, peer: { address: remote.address, port: remote.port } };
      const waiter = this.#requestWaiters.shift();
      if (waiter === undefined) this.#requests.push(request);
      else waiter.resolve(request);
    });
  }

  static async start(host = '127.0.0.1'): Promise<ScriptedServer> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new ScriptedServer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The next request the client sent (CON or NON). */
  nextRequest(timeoutMs = 2000): Promise<ReceivedRequest> {
    const queued = this.#requests.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (request: ReceivedRequest) => {
          clearTimeout(timer);
          resolve(request);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#requestWaiters.splice(this.#requestWaiters.indexOf(waiter), 1);
        reject(new Error('no request from the client in time'));
      }, timeoutMs);
      this.#requestWaiters.push(waiter);
    });
  }

  /** A piggybacked answer to `request`. */
  reply(request: ReceivedRequest, code: number, options: CoapOptions = {}, payload: Uint8Array = EMPTY): void {
    const { message, peer } = request;
    this.sendRaw(serializeCoapMessage({ type: 'ACK', code, messageId: message.messageId, token: message.token, options, payload }), peer);
  }

  /** Sends a CON request to the client and resolves with its piggybacked answer. */
  request(peer: Peer, code: number, options: CoapOptions = {}, payload: Uint8Array = EMPTY, timeoutMs = 2000): Promise<CoapMessage> {
    const messageId = this.#mid++;
    const bytes = serializeCoapMessage({ type: 'CON', code, messageId, token: randomBytes(2), options, payload });
    return this.sendAndAwait(bytes, messageId, peer, timeoutMs);
  }

  sendAndAwait(bytes: Uint8Array, messageId: number, peer: Peer, timeoutMs = 2000): Promise<CoapMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(messageId);
        reject(new Error(`no answer to message ${messageId}`));
      }, timeoutMs);
      this.#acks.set(messageId, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.sendRaw(bytes, peer);
    });
  }

  sendRaw(bytes: Uint8Array, peer: Peer): void {
    this.socket.send(bytes, peer.port, peer.address);
  }

  nextMessageId(): number {
    return this.#mid++;
  }

  close(): Promise<void> {
    for (const waiter of this.#requestWaiters.splice(0)) waiter.reject(new Error('closed'));
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export const GET = CoapCode.GET;
export const PUT = CoapCode.PUT;
export const POST = CoapCode.POST;
export const DELETE = CoapCode.DELETE;

/** `/0/<id>`: a NoSec Server Account's Security instance. */
export function securityInstance(id: number, uri: string, shortServerId: number): ContentTree {
  return [
    {
      id: 0,
      instances: [
        {
          id,
          resources: [
            { kind: 'single', id: 0, value: stringValue(uri) },
            { kind: 'single', id: 1, value: booleanValue(false) },
            { kind: 'single', id: 2, value: integerValue(3) },
            { kind: 'single', id: 3, value: opaqueValue(new Uint8Array(0)) },
            { kind: 'single', id: 4, value: opaqueValue(new Uint8Array(0)) },
            { kind: 'single', id: 5, value: opaqueValue(new Uint8Array(0)) },
            { kind: 'single', id: 10, value: integerValue(shortServerId) },
          ],
        },
      ],
    },
  ];
}

/** `/1/<id>`: the Server instance with that Short Server ID. */
export function serverInstance(id: number, shortServerId: number, lifetime = 300): ContentTree {
  return [
    {
      id: 1,
      instances: [
        {
          id,
          resources: [
            { kind: 'single', id: 0, value: integerValue(shortServerId) },
            { kind: 'single', id: 1, value: integerValue(lifetime) },
            { kind: 'single', id: 6, value: booleanValue(false) },
            { kind: 'single', id: 7, value: stringValue('U') },
          ],
        },
      ],
    },
  ];
}
