/**
 * The smallest DTLS 1.2 PSK server over UDP: one socket, the pure handshake machine
 * (server-handshake.ts) per peer, and application data handed up once a session is established.
 *
 * A peer (address:port) gets state only after its ClientHello carries a valid cookie, so spoofed
 * sources cost nothing but a stateless HelloVerifyRequest (or, for a fragmented hello, a slot in
 * the small bounded table of client-hello-assembly.ts). State is bounded: at most `maxPeers` (the
 * least recently active is evicted, peer-table.ts) and a handshake that is not established within
 * `handshakeTimeoutMs` is forgotten. While waiting for the client's flight the server repeats its
 * own on a doubling timer (RFC 6347 section 4.2.4). Malformed or unexpected datagrams are dropped
 * silently (RFC 6347 section 4.1.2.7); nothing a peer sends makes this throw.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { ClientHelloAssembly } from './client-hello-assembly.ts';
import { HelloCookies, type ClientAddress } from './cookie.ts';
import { zeroCounters, type DtlsServerCounters } from './dtls-server-counters.ts';
import { serverSettings, type DtlsPeer, type DtlsServerOptions, type DtlsServerSettings } from './dtls-server-options.ts';
import type { EstablishedSession } from './established-session.ts';
import { peerKey, PeerTable, startHandshakeTimer, startRetransmitTimer, stopTimers, type PeerEntry } from './peer-table.ts';
import { ContentType, parseDatagram, type DtlsRecord } from './record.ts';
import {
  awaitsClientFlight,
  startServerHandshake,
  stepServerHandshake,
  type ServerHandshakeAction,
  type ServerHandshakeEvent,
  type ServerHandshakeStep,
} from './server-handshake.ts';
import { answerSessionAlert } from './session-alert.ts';
import { bindUdpSocket, sendRecords } from './udp-socket.ts';

export type { DtlsServerCounters } from './dtls-server-counters.ts';
export type { DtlsPeer, DtlsServerOptions } from './dtls-server-options.ts';

const COOKIE_ROTATION_MS = 60_000;

const identityDecoder = new TextDecoder('utf-8');

export class DtlsServer {
  readonly #socket: Socket;
  readonly #options: DtlsServerOptions;
  readonly #settings: DtlsServerSettings;
  readonly #cookies = new HelloCookies();
  readonly #hellos = new ClientHelloAssembly();
  readonly #peers: PeerTable;
  readonly #rotation: NodeJS.Timeout;
  readonly #counters = zeroCounters();

  private constructor(socket: Socket, options: DtlsServerOptions, settings: DtlsServerSettings) {
    this.#socket = socket;
    this.#options = options;
    this.#settings = settings;
    this.#peers = new PeerTable(settings.maxPeers);
    this.#rotation = setInterval(() => this.#cookies.rotate(), COOKIE_ROTATION_MS);
    this.#rotation.unref();
    socket.on('message', (datagram, remote) => this.#onDatagram(datagram, remote));
    // After bind, socket errors are per datagram (ICMP unreachable and the like): keep serving.
    socket.on('error', () => undefined);
  }

  static async open(options: DtlsServerOptions): Promise<DtlsServer> {
    const settings = serverSettings(options);
    return new DtlsServer(await bindUdpSocket(options.host, options.port), options, settings);
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
    this.#peers.touch(key, peer);
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
    const outcome = startServerHandshake(this.#cookies, client, hello, this.#settings.handshake);
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
        this.#peers.forget(key);
        this.#counters.handshakesStarted++;
        const peer: PeerEntry = { client, state: outcome.state, session: undefined, identity: '', timer: undefined, retransmitTimer: undefined };
        startHandshakeTimer(peer, this.#settings.handshakeTimeoutMs, () => {
          if (!this.#peers.holds(key, peer)) return;
          this.#counters.handshakesTimedOut++;
          this.#peers.forget(key);
        });
        this.#peers.touch(key, peer);
        this.#apply(key, peer, outcome);
        // RFC 6347 4.2.4: resend the ServerHello flight until the client's flight starts to arrive.
        startRetransmitTimer(peer, this.#settings.retransmitInitialMs, () => {
          if (!this.#peers.holds(key, peer) || !awaitsClientFlight(peer.state)) return false;
          return this.#stepLater(key, peer, { type: 'retransmit' }) && awaitsClientFlight(peer.state);
        });
        return;
      }
    }
  }

  #onSessionRecord(key: string, peer: PeerEntry, session: EstablishedSession, record: DtlsRecord): void {
    const opened = session.open(record);
    if (opened === undefined) {
      this.#counters.recordsDropped++;
      return;
    }
    const dtlsPeer: DtlsPeer = { ...peer.client, identity: peer.identity };
    if (opened.type === ContentType.alert) {
      const answer = answerSessionAlert(session, opened.plaintext);
      if (answer.reply !== undefined) this.#send(peer.client, [answer.reply]);
      if (answer.closes) {
        this.#peers.forget(key);
        this.#options.onPeerClosed?.(dtlsPeer);
      }
      return;
    }
    if (opened.type !== ContentType.applicationData) return;
    const reply = (data: Uint8Array): void => {
      if (!this.#peers.holds(key, peer)) return;
      this.#send(peer.client, [session.encryptApplicationData(data)]);
    };
    this.#options.onApplicationData(dtlsPeer, opened.plaintext, reply);
  }

  #apply(key: string, peer: PeerEntry, step: ServerHandshakeStep): void {
    peer.state = step.state;
    for (const action of step.actions) this.#perform(key, peer, action);
  }

  /**
   * A step outside the datagram path (a timer, a lookup's answer), where nobody else catches a
   * throw: the peer is forgotten instead. False when it was.
   */
  #stepLater(key: string, peer: PeerEntry, event: ServerHandshakeEvent): boolean {
    try {
      this.#apply(key, peer, stepServerHandshake(peer.state, event));
      return true;
    } catch {
      this.#peers.forget(key);
      return false;
    }
  }

  #perform(key: string, peer: PeerEntry, action: ServerHandshakeAction): void {
    switch (action.type) {
      case 'send':
        this.#send(peer.client, action.records);
        return;
      case 'lookup-psk': {
        const identity = identityDecoder.decode(action.identity);
        peer.identity = identity;
        // The peer may have timed out, been evicted or started over while the lookup ran.
        this.#options.lookupPsk(identity).then(
          (psk) => {
            if (this.#peers.holds(key, peer)) this.#stepLater(key, peer, { type: 'psk', key: psk });
          },
          () => {
            if (this.#peers.holds(key, peer)) this.#stepLater(key, peer, { type: 'psk-unavailable' });
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
        this.#peers.forget(key);
        this.#options.onHandshakeFailed?.(peer.client, action.alert);
        return;
    }
  }

  #send(client: ClientAddress, records: readonly DtlsRecord[]): void {
    sendRecords(this.#socket, client, records, this.#settings.datagramLimit);
  }
}

function isEpochZeroHandshake(record: DtlsRecord): boolean {
  return record.epoch === 0 && record.type === ContentType.handshake;
}
