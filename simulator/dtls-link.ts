import type { Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { dtls } from 'node-dtls-client';
import { formatPeer, type DatagramLink, type PeerAddress } from './datagram-link.ts';

/**
 * One DTLS 1.2 session with PSK (RFC 6347, RFC 4279) to one server, as an LwM2M client holds
 * for a coaps:// account (LwM2M Transport 1.1 section 5.2.8). The DTLS is node-dtls-client's,
 * an implementation independent of the gateway's server/dtls, so a bug there is not mirrored.
 */
export type DtlsCipherSuiteName = NonNullable<dtls.Options['ciphers']>[number];

export interface DtlsLinkOptions {
  readonly server: PeerAddress;
  /** The PSK identity, sent as its UTF-8 bytes. */
  readonly identity: string;
  readonly key: Uint8Array;
  /** The suites offered, in order; node-dtls-client's whole list when absent. */
  readonly ciphers?: readonly DtlsCipherSuiteName[];
  /**
   * How long the handshake may take (default 5 s). node-dtls-client does not retransmit
   * handshake flights, so this bounds the whole handshake, not one flight.
   */
  readonly handshakeTimeoutMs?: number;
}

export const DEFAULT_DTLS_HANDSHAKE_TIMEOUT_MS = 5000;

/** The handshake did not complete. Carries the peer's alert when it sent one; never the key. */
export class DtlsHandshakeError extends Error {
  /** The fatal alert's description as named in RFC 5246 section 7.2 (`decrypt_error`...), if one came. */
  readonly alert: string | undefined;
  readonly server: PeerAddress;

  constructor(server: PeerAddress, alert: string | undefined, reason: string) {
    super(`DTLS handshake with ${formatPeer(server)} failed: ${alert === undefined ? reason : `fatal alert ${alert}`}`);
    this.name = 'DtlsHandshakeError';
    this.server = server;
    this.alert = alert;
  }
}

const FATAL_ALERT = /^received fatal alert: (\w+)$/;

export class DtlsLink implements DatagramLink {
  readonly #socket: dtls.Socket;
  readonly #server: PeerAddress;
  /** Application data that came before a receiver was set (it can follow the Finished at once). */
  readonly #early: Uint8Array[] = [];
  #receiver: ((bytes: Uint8Array, peer: PeerAddress) => void) | undefined;
  #downHandler: ((reason: Error) => void) | undefined;
  #down = false;
  #closing = false;

  private constructor(socket: dtls.Socket, server: PeerAddress) {
    this.#socket = socket;
    this.#server = server;
    socket.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
      if (this.#receiver === undefined) this.#early.push(bytes);
      else this.#receiver(bytes, this.#server);
    });
  }

  /** Runs the handshake; rejects with DtlsHandshakeError when it fails or times out. */
  static connect(options: DtlsLinkOptions): Promise<DtlsLink> {
    const { server } = options;
    const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_DTLS_HANDSHAKE_TIMEOUT_MS;
    const socket = dtls.createSocket({
      type: isIPv6(server.host) ? 'udp6' : 'udp4',
      address: server.host,
      port: server.port,
      // node-dtls-client takes the key as a string it reads back with Buffer.from(text, 'ascii'),
      // which for strings is latin1: one character per byte, so any binary key survives.
      psk: { [options.identity]: Buffer.from(options.key).toString('latin1') },
      timeout: timeoutMs,
      ...(options.ciphers === undefined ? {} : { ciphers: [...options.ciphers] }),
    });
    const link = new DtlsLink(socket, server);
    return new Promise<DtlsLink>((resolve, reject) => {
      let connected = false;
      // node-dtls-client's socket throws an unhandled 'error' unless one is listened for: one
      // listener for its whole life, a handshake failure before 'connected', the session's end after.
      socket.on('error', (error: Error) => {
        if (connected) {
          link.#goDown(new Error(`DTLS session with ${formatPeer(server)} ended: ${error.message}`));
          return;
        }
        link.#down = true;
        const alert = FATAL_ALERT.exec(error.message)?.[1];
        const reason = /timed out/.test(error.message) ? `no handshake within ${timeoutMs} ms` : error.message;
        reject(new DtlsHandshakeError(server, alert, reason));
      });
      socket.on('close', () => {
        if (!connected) {
          link.#down = true;
          reject(new DtlsHandshakeError(server, undefined, 'the session closed during the handshake'));
          return;
        }
        if (!link.#closing) link.#goDown(new Error(`DTLS session with ${formatPeer(server)} closed by the server`));
        link.#down = true;
      });
      socket.once('connected', () => {
        connected = true;
        resolve(link);
      });
    });
  }

  get localPort(): number {
    // node-dtls-client keeps its UDP socket private; the port is only for logs and tests.
    const udp = (this.#socket as unknown as { udp?: UdpSocket }).udp;
    try {
      return udp?.address().port ?? 0;
    } catch {
      return 0;
    }
  }

  /** Every datagram goes to the one server of the session; `peer` is the CoAP layer's name for it. */
  send(bytes: Uint8Array, _peer: PeerAddress, settled: () => void): void {
    if (this.#down || this.#closing) {
      settled();
      return;
    }
    try {
      this.#socket.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), () => settled());
    } catch {
      settled();
    }
  }

  receive(handler: (bytes: Uint8Array, peer: PeerAddress) => void): void {
    this.#receiver = handler;
    for (const bytes of this.#early.splice(0)) handler(bytes, this.#server);
  }

  onDown(handler: (reason: Error) => void): void {
    this.#downHandler = handler;
  }

  /** Sends close_notify and closes the UDP socket. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#down) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      try {
        this.#socket.close();
      } catch {
        resolve();
      }
    });
  }

  #goDown(reason: Error): void {
    if (this.#down) return;
    this.#down = true;
    this.#downHandler?.(reason);
  }
}
