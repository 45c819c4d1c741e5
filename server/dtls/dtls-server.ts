/**
 * The smallest DTLS 1.2 PSK server over UDP: one socket, the pure handshake machine
 * (server-handshake.ts) per peer, and application data handed up once a session is established.
 *
 * A peer (address:port) gets state only after its ClientHello carries a valid cookie, so spoofed
 * sources cost nothing but a stateless HelloVerifyRequest. State is bounded: at most `maxPeers`
 * (the least recently active is evicted) and a handshake that is not established within
 * `handshakeTimeoutMs` is forgotten. Malformed or unexpected datagrams are dropped silently
 * (RFC 6347 section 4.1.2.7); nothing a peer sends makes this throw.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { AlertDescription, AlertLevel, parseAlert } from './alert.ts';
import { HelloCookies, type ClientAddress } from './cookie.ts';
import type { EstablishedSession } from './established-session.ts';
import { ContentType, parseDatagram, serializeDatagram, type DtlsRecord } from './record.ts';
import {
  startServerHandshake,
  stepServerHandshake,
  type ServerHandshakeAction,
  type ServerHandshakeState,
  type ServerHandshakeStep,
} from './server-handshake.ts';

const DEFAULT_MAX_PEERS = 10_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const COOKIE_ROTATION_MS = 60_000;

export interface DtlsPeer extends ClientAddress {
  /** The PSK identity the peer authenticated with, as text. */
  readonly identity: string;
}

export interface DtlsServerOptions {
  readonly port: number;
  readonly host: string;
  /** The key for a PSK identity, or undefined when the identity is unknown. */
  lookupPsk(identity: string): Promise<Uint8Array | undefined>;
  onApplicationData(peer: DtlsPeer, data: Uint8Array, reply: (data: Uint8Array) => void): void;
  readonly maxPeers?: number;
  readonly handshakeTimeoutMs?: number;
}

interface PeerEntry {
  readonly client: ClientAddress;
  state: ServerHandshakeState;
  session: EstablishedSession | undefined;
  identity: string;
  timer: NodeJS.Timeout | undefined;
}

const identityDecoder = new TextDecoder('utf-8');

export class DtlsServer {
  readonly #socket: Socket;
  readonly #options: DtlsServerOptions;
  readonly #cookies = new HelloCookies();
  /** Insertion order is recency: a peer is re-inserted when it is active, the first is the oldest. */
  readonly #peers = new Map<string, PeerEntry>();
  readonly #rotation: NodeJS.Timeout;
  readonly #maxPeers: number;
  readonly #handshakeTimeoutMs: number;

  private constructor(socket: Socket, options: DtlsServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#rotation = setInterval(() => this.#cookies.rotate(), COOKIE_ROTATION_MS);
    this.#rotation.unref();
    socket.on('message', (datagram, remote) => this.#onDatagram(datagram, remote));
    // After bind, socket errors are per datagram (ICMP unreachable and the like): keep serving.
    socket.on('error', () => undefined);
  }

  static async open(options: DtlsServerOptions): Promise<DtlsServer> {
    const socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new DtlsServer(socket, options);
  }

  address(): ClientAddress {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  /**
   * Sends application data to a peer with an established session, for requests the server
   * starts itself. False when there is no such session (never established, closed or evicted).
   */
  sendApplicationData(client: ClientAddress, data: Uint8Array): boolean {
    const peer = this.#peers.get(peerKey(client));
    if (peer?.session === undefined) return false;
    this.#send(peer.client, [peer.session.encryptApplicationData(data)]);
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.#rotation);
    for (const peer of this.#peers.values()) clearTimeout(peer.timer);
    this.#peers.clear();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onDatagram(datagram: Buffer, remote: RemoteInfo): void {
    const client: ClientAddress = { address: remote.address, port: remote.port };
    let records: DtlsRecord[];
    try {
      records = parseDatagram(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.length));
    } catch {
      return;
    }
    for (const record of records) {
      try {
        this.#onRecord(client, record);
      } catch {
        // A CodecError (or anything else) from one record drops it; the peer's state is untouched.
      }
    }
  }

  #onRecord(client: ClientAddress, record: DtlsRecord): void {
    const key = peerKey(client);
    const peer = this.#peers.get(key);
    if (peer === undefined || (peer.session !== undefined && isEpochZeroHandshake(record))) {
      // No state yet, or an established peer starting over (RFC 6347 section 4.2.8).
      this.#onFirstRecord(client, record);
      return;
    }
    this.#touch(key, peer);
    if (peer.session !== undefined && record.epoch === peer.session.epoch && record.type !== ContentType.handshake) {
      this.#onSessionRecord(key, peer, peer.session, record);
      return;
    }
    this.#apply(key, peer, stepServerHandshake(peer.state, { type: 'record', record }));
  }

  #onFirstRecord(client: ClientAddress, record: DtlsRecord): void {
    const outcome = startServerHandshake(this.#cookies, client, record);
    switch (outcome.type) {
      case 'ignore':
        return;
      case 'hello-verify-request':
      case 'rejected':
        this.#send(client, [outcome.record]);
        return;
      case 'started': {
        const key = peerKey(client);
        this.#forget(key);
        const peer: PeerEntry = { client, state: outcome.state, session: undefined, identity: '', timer: undefined };
        peer.timer = setTimeout(() => {
          if (this.#peers.get(key) === peer) this.#forget(key);
        }, this.#handshakeTimeoutMs);
        peer.timer.unref();
        this.#touch(key, peer);
        this.#apply(key, peer, outcome);
        return;
      }
    }
  }

  #onSessionRecord(key: string, peer: PeerEntry, session: EstablishedSession, record: DtlsRecord): void {
    const opened = session.open(record);
    if (opened === undefined) return;
    if (opened.type === ContentType.alert) {
      const alert = parseAlert(opened.plaintext);
      if (alert.level === AlertLevel.fatal || alert.description === AlertDescription.closeNotify) this.#forget(key);
      return;
    }
    if (opened.type !== ContentType.applicationData) return;
    const reply = (data: Uint8Array): void => {
      if (this.#peers.get(key) !== peer) return;
      this.#send(peer.client, [session.encryptApplicationData(data)]);
    };
    this.#options.onApplicationData({ ...peer.client, identity: peer.identity }, opened.plaintext, reply);
  }

  #apply(key: string, peer: PeerEntry, step: ServerHandshakeStep): void {
    peer.state = step.state;
    for (const action of step.actions) this.#perform(key, peer, action);
  }

  #perform(key: string, peer: PeerEntry, action: ServerHandshakeAction): void {
    switch (action.type) {
      case 'send':
        this.#send(peer.client, action.records);
        return;
      case 'lookup-psk': {
        const identity = identityDecoder.decode(action.identity);
        peer.identity = identity;
        this.#options.lookupPsk(identity).then(
          (psk) => {
            // The peer may have timed out, been evicted or started over while the lookup ran.
            if (this.#peers.get(key) !== peer) return;
            try {
              this.#apply(key, peer, stepServerHandshake(peer.state, { type: 'psk', key: psk }));
            } catch {
              this.#forget(key);
            }
          },
          () => {
            if (this.#peers.get(key) === peer) this.#forget(key);
          },
        );
        return;
      }
      case 'established':
        peer.session = action.session;
        clearTimeout(peer.timer);
        peer.timer = undefined;
        return;
      case 'failed':
        this.#forget(key);
        return;
    }
  }

  #touch(key: string, peer: PeerEntry): void {
    this.#peers.delete(key);
    this.#peers.set(key, peer);
    while (this.#peers.size > this.#maxPeers) {
      const oldest = this.#peers.keys().next();
      if (oldest.done === true) break;
      this.#forget(oldest.value);
    }
  }

  #forget(key: string): void {
    const peer = this.#peers.get(key);
    if (peer === undefined) return;
    clearTimeout(peer.timer);
    this.#peers.delete(key);
  }

  #send(client: ClientAddress, records: readonly DtlsRecord[]): void {
    try {
      this.#socket.send(serializeDatagram(records), client.port, client.address);
    } catch {
      // The socket is closing: nothing more goes out.
    }
  }
}

function peerKey(client: ClientAddress): string {
  return `${client.address}|${client.port}`;
}

function isEpochZeroHandshake(record: DtlsRecord): boolean {
  return record.epoch === 0 && record.type === ContentType.handshake;
}
