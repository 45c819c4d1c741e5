import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * What CoAP needs from below it (RFC 7252 section 3: CoAP over a datagram transport): send
 * bytes to a peer, receive bytes from a peer, a local port, close. Plain UDP is one link; a
 * DTLS session (dtls-link.ts) is another, so the CoAP peer above stays the same over coap://
 * and coaps://.
 */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface DatagramLink {
  readonly localPort: number;
  /**
   * Hands one datagram to the link. `settled` runs once it has left or was dropped: a link
   * closed before that would lose it (dgram resolves the address asynchronously).
   */
  send(bytes: Uint8Array, peer: PeerAddress, settled: () => void): void;
  /** Where received datagrams go. */
  receive(handler: (bytes: Uint8Array, peer: PeerAddress) => void): void;
  /**
   * Called once if the link goes down by itself (a DTLS session ended by the peer, say), so
   * waiting exchanges can fail at once instead of timing out. Plain UDP never does.
   */
  onDown(handler: (reason: Error) => void): void;
  close(): Promise<void>;
}

/** One unconnected dgram socket: any peer, both roles. */
export class UdpLink implements DatagramLink {
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    // A send to a closed port can surface as an error event; the exchange times out instead.
    socket.on('error', () => undefined);
  }

  /** Binds a socket; the family follows `host` (an IPv6 literal gives udp6). Port 0 picks one. */
  static async bind(host: string, port: number): Promise<UdpLink> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpLink(socket);
  }

  get localPort(): number {
    return this.#socket.address().port;
  }

  send(bytes: Uint8Array, peer: PeerAddress, settled: () => void): void {
    this.#socket.send(bytes, peer.port, peer.host, () => settled());
  }

  receive(handler: (bytes: Uint8Array, peer: PeerAddress) => void): void {
    this.#socket.on('message', (datagram, remote) => handler(datagram, { host: remote.address, port: remote.port }));
  }

  onDown(): void {
    // An unconnected UDP socket has no session to lose.
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

export function formatPeer(peer: PeerAddress): string {
  return isIPv6(peer.host) ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`;
}
