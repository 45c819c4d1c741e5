/**
 * The smallest DTLS 1.2 PSK server over UDP: one socket, the pure handshake machine
 * (server-handshake.ts) per peer, and application data handed up once a session is established.
 *
 * A peer (address:port) gets state only after its ClientHello carries a valid cookie, so spoofed
 * sources cost nothing but a stateless HelloVerifyRequest (or, for a fragmented hello, a slot in
 * the small bounded table of client-hello-assembly.ts). State is bounded: at most `maxPeers` (the
 * least recently active is evicted) and a handshake that is not established within
 * `handshakeTimeoutMs` is forgotten. While waiting for the client's flight the server repeats its
 * own on a doubling timer (RFC 6347 section 4.2.4). Malformed or unexpected datagrams are dropped
 * silently (RFC 6347 section 4.1.2.7); nothing a peer sends makes this throw.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { AlertDescription, AlertLevel, parseAlert, serializeAlert } from './alert.ts';
import { DEFAULT_CIPHER_SUITES, SUPPORTED_CIPHER_SUITES } from './cipher-suite.ts';
import { ClientHelloAssembly } from './client-hello-assembly.ts';
import { HelloCookies, type ClientAddress } from './cookie.ts';
import type { EstablishedSession } from './established-session.ts';
import { DEFAULT_MAX_HANDSHAKE_FRAGMENT } from './handshake-flight.ts';
import { ContentType, parseDatagram, serializeRecord, type DtlsRecord } from './record.ts';
import {
  awaitsClientFlight,
  startServerHandshake,
  stepServerHandshake,
  type ServerHandshakeAction,
  type ServerHandshakeConfig,
  type ServerHandshakeState,
  type ServerHandshakeStep,
} from './server-handshake.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_PEERS = 10_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_RETRANSMIT_INITIAL_MS = 1_000;
/** RFC 6347 section 4.2.4.1: the timer doubles up to at least 60 seconds. */
const RETRANSMIT_CAP_MS = 60_000;
const COOKIE_ROTATION_MS = 60_000;
/** Record header and handshake header around one fragment, so fragmented flights fit a datagram. */
const FRAGMENT_FRAMING = 13 + 12;

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
  /** Cipher suites in server preference order; default CCM_8 (0xC0A8), then CBC_SHA256 (0x00AE). */
  readonly cipherSuites?: readonly number[];
  /** Most handshake body bytes per outgoing fragment; larger messages are sent fragmented. Default 1024. */
  readonly maxHandshakeFragment?: number;
  /** First flight retransmission timeout; it doubles up to 60 s. Default 1000 ms. */
  readonly retransmitInitialMs?: number;
  /** A handshake ended with an alert, sent or received (never called with keys). */
  onHandshakeFailed?(client: ClientAddress, alert: number): void;
  /** An established peer ended its session with close_notify or a fatal alert. */
  onPeerClosed?(peer: DtlsPeer): void;
}

/** A snapshot of what the server has done since it opened. */
export interface DtlsServerCounters {
  readonly helloVerifyRequests: number;
  readonly handshakesStarted: number;
  readonly handshakesCompleted: number;
  /** Ended by an alert, sent or received, including a hello with nothing acceptable. */
  readonly handshakesFailed: number;
  /** Forgotten because the handshake did not finish within handshakeTimeoutMs. */
  readonly handshakesTimedOut: number;
  /** Datagrams or records that were malformed, unauthenticated, replayed or unexpected. */
  readonly recordsDropped: number;
  readonly peers: number;
}

type Counter = Exclude<keyof DtlsServerCounters, 'peers'>;

interface PeerEntry {
  readonly client: ClientAddress;
  state: ServerHandshakeState;
  session: EstablishedSession | undefined;
  identity: string;
  /** The handshake timeout. */
  timer: NodeJS.Timeout | undefined;
  retransmitTimer: NodeJS.Timeout | undefined;
}

const identityDecoder = new TextDecoder('utf-8');

export class DtlsServer {
  readonly #socket: Socket;
  readonly #options: DtlsServerOptions;
  readonly #cookies = new HelloCookies();
  readonly #hellos = new ClientHelloAssembly();
  /** Insertion order is recency: a peer is re-inserted when it is active, the first is the oldest. */
  readonly #peers = new Map<string, PeerEntry>();
  readonly #rotation: NodeJS.Timeout;
  readonly #maxPeers: number;
  readonly #handshakeTimeoutMs: number;
  readonly #retransmitInitialMs: number;
  readonly #handshake: ServerHandshakeConfig;
  readonly #datagramLimit: number;
  readonly #counters: Record<Counter, number> = {
    helloVerifyRequests: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    handshakesTimedOut: 0,
    recordsDropped: 0,
  };

  private constructor(socket: Socket, options: DtlsServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#retransmitInitialMs = options.retransmitInitialMs ?? DEFAULT_RETRANSMIT_INITIAL_MS;
    const maxHandshakeFragment = options.maxHandshakeFragment ?? DEFAULT_MAX_HANDSHAKE_FRAGMENT;
    this.#handshake = { cipherSuites: options.cipherSuites ?? DEFAULT_CIPHER_SUITES, maxHandshakeFragment };
    this.#datagramLimit = maxHandshakeFragment + FRAGMENT_FRAMING;
    this.#rotation = setInterval(() => this.#cookies.rotate(), COOKIE_ROTATION_MS);
    this.#rotation.unref();
    socket.on('message', (datagram, remote) => this.#onDatagram(datagram, remote));
    // After bind, socket errors are per datagram (ICMP unreachable and the like): keep serving.
    socket.on('error', () => undefined);
  }

  static async open(options: DtlsServerOptions): Promise<DtlsServer> {
    checkOptions(options);
    // IPv6 only, so an IPv4 server can hold the same port (the CoAP endpoint opens one of each);
    // a large receive buffer, because a burst of handshakes otherwise overflows the default.
    const socket = options.host.includes(':')
      ? createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: RECEIVE_BUFFER_BYTES })
      : createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
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

  counters(): DtlsServerCounters {
    return { ...this.#counters, peers: this.#peers.size };
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
    for (const peer of this.#peers.values()) stopTimers(peer);
    this.#peers.clear();
    this.#hellos.clear();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onDatagram(datagram: Buffer, remote: RemoteInfo): void {
    const client: ClientAddress = { address: remote.address, port: remote.port };
    let records: DtlsRecord[];
    try {
      records = parseDatagram(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.length));
    } catch {
      this.#counters.recordsDropped++;
      return;
    }
    for (const record of records) {
      try {
        this.#onRecord(client, record);
      } catch {
        // A CodecError (or anything else) from one record drops it; the peer's state is untouched.
        this.#counters.recordsDropped++;
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
    if (!isEpochZeroHandshake(record)) {
      // Nothing but a ClientHello can come from a client without state (or starting over).
      this.#counters.recordsDropped++;
      return;
    }
    const key = peerKey(client);
    const hello = this.#hellos.accept(key, record);
    if (hello === undefined) return;
    const outcome = startServerHandshake(this.#cookies, client, hello, this.#handshake);
    switch (outcome.type) {
      case 'ignore':
        this.#counters.recordsDropped++;
        return;
      case 'hello-verify-request':
        this.#counters.helloVerifyRequests++;
        this.#send(client, [outcome.record]);
        return;
      case 'rejected':
        this.#counters.handshakesFailed++;
        this.#send(client, [outcome.record]);
        this.#options.onHandshakeFailed?.(client, outcome.alert);
        return;
      case 'started': {
        this.#forget(key);
        this.#counters.handshakesStarted++;
        const peer: PeerEntry = { client, state: outcome.state, session: undefined, identity: '', timer: undefined, retransmitTimer: undefined };
        peer.timer = setTimeout(() => {
          if (this.#peers.get(key) !== peer) return;
          this.#counters.handshakesTimedOut++;
          this.#forget(key);
        }, this.#handshakeTimeoutMs);
        peer.timer.unref();
        this.#touch(key, peer);
        this.#apply(key, peer, outcome);
        this.#armRetransmit(key, peer, this.#retransmitInitialMs);
        return;
      }
    }
  }

  /** RFC 6347 4.2.4: resend the ServerHello flight until the client's flight starts to arrive. */
  #armRetransmit(key: string, peer: PeerEntry, delayMs: number): void {
    peer.retransmitTimer = setTimeout(() => {
      peer.retransmitTimer = undefined;
      if (this.#peers.get(key) !== peer || !awaitsClientFlight(peer.state)) return;
      try {
        this.#apply(key, peer, stepServerHandshake(peer.state, { type: 'retransmit' }));
      } catch {
        this.#forget(key);
        return;
      }
      if (awaitsClientFlight(peer.state)) this.#armRetransmit(key, peer, Math.min(delayMs * 2, RETRANSMIT_CAP_MS));
    }, delayMs);
    peer.retransmitTimer.unref();
  }

  #onSessionRecord(key: string, peer: PeerEntry, session: EstablishedSession, record: DtlsRecord): void {
    const opened = session.open(record);
    if (opened === undefined) {
      this.#counters.recordsDropped++;
      return;
    }
    const dtlsPeer: DtlsPeer = { ...peer.client, identity: peer.identity };
    if (opened.type === ContentType.alert) {
      const alert = parseAlert(opened.plaintext);
      if (alert.description === AlertDescription.closeNotify) {
        // RFC 5246 7.2.1: answer close_notify with close_notify, then the session is over.
        const closeNotify = serializeAlert({ level: AlertLevel.warning, description: AlertDescription.closeNotify });
        this.#send(peer.client, [session.protect(ContentType.alert, closeNotify)]);
      }
      if (alert.level === AlertLevel.fatal || alert.description === AlertDescription.closeNotify) {
        this.#forget(key);
        this.#options.onPeerClosed?.(dtlsPeer);
      }
      return;
    }
    if (opened.type !== ContentType.applicationData) return;
    const reply = (data: Uint8Array): void => {
      if (this.#peers.get(key) !== peer) return;
      this.#send(peer.client, [session.encryptApplicationData(data)]);
    };
    this.#options.onApplicationData(dtlsPeer, opened.plaintext, reply);
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
            if (this.#peers.get(key) !== peer) return;
            try {
              this.#apply(key, peer, stepServerHandshake(peer.state, { type: 'psk-unavailable' }));
            } catch {
              this.#forget(key);
            }
          },
        );
        return;
      }
      case 'established':
        this.#counters.handshakesCompleted++;
        peer.session = action.session;
        stopTimers(peer);
        return;
      case 'failed':
        this.#counters.handshakesFailed++;
        this.#forget(key);
        this.#options.onHandshakeFailed?.(peer.client, action.alert);
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
    stopTimers(peer);
    this.#peers.delete(key);
  }

  /** Records packed into as few datagrams as fit the fragment size, so a fragmented flight is too. */
  #send(client: ClientAddress, records: readonly DtlsRecord[]): void {
    let datagram: Uint8Array[] = [];
    let size = 0;
    const flush = (): void => {
      if (datagram.length === 0) return;
      const bytes = Buffer.concat(datagram);
      datagram = [];
      size = 0;
      try {
        this.#socket.send(bytes, client.port, client.address);
      } catch {
        // The socket is closing: nothing more goes out.
      }
    };
    for (const record of records) {
      let bytes: Uint8Array;
      try {
        bytes = serializeRecord(record);
      } catch {
        // A record that cannot be framed (sequence space exhausted) is not sent.
        continue;
      }
      if (size + bytes.length > this.#datagramLimit) flush();
      datagram.push(bytes);
      size += bytes.length;
    }
    flush();
  }
}

function checkOptions(options: DtlsServerOptions): void {
  const suites = options.cipherSuites;
  if (suites !== undefined && (suites.length === 0 || !suites.every((suite) => SUPPORTED_CIPHER_SUITES.includes(suite)))) {
    throw new RangeError(`cipherSuites must be a non-empty subset of ${SUPPORTED_CIPHER_SUITES.map((suite) => `0x${suite.toString(16)}`).join(', ')}`);
  }
  const fragment = options.maxHandshakeFragment;
  if (fragment !== undefined && (!Number.isInteger(fragment) || fragment < 1)) throw new RangeError('maxHandshakeFragment must be a positive integer');
  const retransmit = options.retransmitInitialMs;
  if (retransmit !== undefined && !(retransmit > 0)) throw new RangeError('retransmitInitialMs must be positive');
}

function stopTimers(peer: PeerEntry): void {
  clearTimeout(peer.timer);
  clearTimeout(peer.retransmitTimer);
  peer.timer = undefined;
  peer.retransmitTimer = undefined;
}

function peerKey(client: ClientAddress): string {
  return `${client.address}|${client.port}`;
}

function isEpochZeroHandshake(record: DtlsRecord): boolean {
  return record.epoch === 0 && record.type === ContentType.handshake;
}
