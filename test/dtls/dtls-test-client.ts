/**
 * A DTLS 1.2 PSK client for tests, built from the server's own primitives (record, handshake,
 * prf, cipher-suite, reassembly): both suites, and every outgoing handshake message cut into
 * fragments of `maxFragment` body bytes, one fragment per record. It shares the server's codecs,
 * so it proves the machine's logic, not interop (openssl and node-dtls-client tests do that).
 * `UdpTestClient` drives it over a real socket.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { cipherSuite, TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8 } from '../../server/dtls/cipher-suite.ts';
import {
  HandshakeType,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parseServerHello,
  serializeClientHello,
  serializeFinished,
  serializePskClientKeyExchange,
} from '../../server/dtls/handshake.ts';
import { handshakeFragments } from '../../server/dtls/handshake-flight.ts';
import { HandshakeReassembly, type HandshakeMessage } from '../../server/dtls/handshake-reassembly.ts';
import { HandshakeTranscript } from '../../server/dtls/handshake-transcript.ts';
import { keyBlock, masterSecret, pskPremasterSecret, verifyData } from '../../server/dtls/prf.ts';
import type { SessionCiphers } from '../../server/dtls/record-cipher.ts';
import { ContentType, DTLS_1_0, DTLS_1_2, parseDatagram, serializeDatagram, type DtlsRecord } from '../../server/dtls/record.ts';

export interface TestClientOptions {
  readonly suites?: readonly number[];
  readonly identity?: string;
  readonly psk: Uint8Array;
  /** Handshake body bytes per fragment; default: whole messages. */
  readonly maxFragment?: number;
}

export class FragmentingTestClient {
  readonly random = new Uint8Array(randomBytes(32));
  readonly suites: readonly number[];
  readonly identity: Uint8Array;
  readonly psk: Uint8Array;
  readonly maxFragment: number;
  #recordSeq = 0;
  #epochOneSeq = 0;
  #reassembly = new HandshakeReassembly();
  #received = new Map<number, HandshakeMessage>();
  transcript = new HandshakeTranscript();
  cookie: Uint8Array = new Uint8Array(0);
  serverRandom: Uint8Array = new Uint8Array(0);
  chosenSuite = 0;
  master: Uint8Array = new Uint8Array(0);
  /** The client's view: write is client_write, read is server_write. */
  ciphers: SessionCiphers | undefined;
  finishedMessage: HandshakeMessage | undefined;

  constructor(options: TestClientOptions) {
    this.suites = options.suites ?? [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256];
    this.identity = new TextEncoder().encode(options.identity ?? 'urn:imei:490154203237518');
    this.psk = options.psk;
    this.maxFragment = options.maxFragment ?? 1 << 20;
  }

  helloBody(): Uint8Array {
    return serializeClientHello({
      clientVersion: DTLS_1_2,
      random: this.random,
      sessionId: new Uint8Array(0),
      cookie: this.cookie,
      cipherSuites: this.suites,
      compressionMethods: new Uint8Array([0]),
      extensions: undefined,
    });
  }

  plain(type: ContentType, fragment: Uint8Array, version = DTLS_1_2): DtlsRecord {
    return { type, version, epoch: 0, sequenceNumber: this.#recordSeq++, fragment };
  }

  #fragmented(message: HandshakeMessage, version = DTLS_1_2): DtlsRecord[] {
    return handshakeFragments(message, this.maxFragment).map((fragment) => this.plain(ContentType.handshake, fragment, version));
  }

  /** message_seq 0 before the cookie, 1 after it (RFC 6347 4.2.2). */
  hello(): DtlsRecord[] {
    const messageSeq = this.cookie.length === 0 ? 0 : 1;
    return this.#fragmented({ msgType: HandshakeType.clientHello, messageSeq, body: this.helloBody() }, DTLS_1_0);
  }

  /**
   * Takes server records (epoch 0); returns true once the ServerHello flight is complete, after
   * which the transcript holds the cookie hello and that flight. A HelloVerifyRequest sets the cookie.
   */
  receive(records: readonly DtlsRecord[]): boolean {
    for (const record of records) {
      if (record.type !== ContentType.handshake || record.epoch !== 0) continue;
      for (const fragment of parseHandshakeFragments(record.fragment)) {
        const step = this.#reassembly.add(fragment);
        this.#reassembly = step.reassembly;
        if (step.message === undefined) continue;
        if (step.message.msgType === HandshakeType.helloVerifyRequest) this.cookie = parseHelloVerifyRequest(step.message.body).cookie;
        else this.#received.set(step.message.messageSeq, step.message);
      }
    }
    const serverHello = this.#received.get(1);
    const done = this.#received.get(2);
    if (serverHello === undefined || done === undefined || this.ciphers !== undefined) return this.ciphers !== undefined;
    const hello = parseServerHello(serverHello.body);
    this.serverRandom = hello.random;
    this.chosenSuite = hello.cipherSuite;
    this.transcript = this.transcript
      .with(HandshakeType.clientHello, 1, this.helloBody())
      .with(HandshakeType.serverHello, 1, serverHello.body)
      .with(HandshakeType.serverHelloDone, 2, done.body);
    const suite = cipherSuite(hello.cipherSuite);
    if (suite === undefined) throw new Error(`server chose unknown suite ${hello.cipherSuite}`);
    this.master = masterSecret(pskPremasterSecret(this.psk), this.random, this.serverRandom);
    const serverView = suite.ciphers(keyBlock(this.master, this.random, this.serverRandom, suite.layout));
    this.ciphers = { read: serverView.write, write: serverView.read };
    return true;
  }

  keyExchange(): DtlsRecord[] {
    const body = serializePskClientKeyExchange({ pskIdentity: this.identity });
    this.transcript = this.transcript.with(HandshakeType.clientKeyExchange, 2, body);
    return this.#fragmented({ msgType: HandshakeType.clientKeyExchange, messageSeq: 2, body });
  }

  changeCipherSpec(): DtlsRecord {
    return this.plain(ContentType.changeCipherSpec, new Uint8Array([1]));
  }

  protect(type: ContentType, plaintext: Uint8Array): DtlsRecord {
    if (this.ciphers === undefined) throw new Error('no keys yet');
    const context = { type, version: DTLS_1_2, epoch: 1, sequenceNumber: this.#epochOneSeq++ };
    return { ...context, fragment: this.ciphers.write.protect(context, plaintext) };
  }

  /** The client's Finished, fragmented into epoch 1 records. */
  finished(): DtlsRecord[] {
    const body = serializeFinished(verifyData(this.master, 'client finished', this.transcript.hash()));
    this.transcript = this.transcript.with(HandshakeType.finished, 3, body);
    this.finishedMessage = { msgType: HandshakeType.finished, messageSeq: 3, body };
    return this.finishedRecords();
  }

  /** The same Finished again under new record numbers, as a retransmitting client sends it. */
  finishedRecords(): DtlsRecord[] {
    if (this.finishedMessage === undefined) throw new Error('no Finished yet');
    return handshakeFragments(this.finishedMessage, this.maxFragment).map((fragment) => this.protect(ContentType.handshake, fragment));
  }

  /** The whole second flight. */
  secondFlight(): DtlsRecord[] {
    return [...this.keyExchange(), this.changeCipherSpec(), ...this.finished()];
  }

  open(record: DtlsRecord): Uint8Array {
    if (this.ciphers === undefined) throw new Error('no keys yet');
    return this.ciphers.read.open(record, record.fragment);
  }

  /** The server's Finished verify_data expected after our Finished. */
  expectedServerFinished(): Uint8Array {
    return verifyData(this.master, 'server finished', this.transcript.hash());
  }
}

/** The client over a real UDP socket: records out, and a queue of records in. */
export class UdpTestClient {
  readonly socket: Socket;
  readonly #target: { readonly address: string; readonly port: number };
  readonly #queue: DtlsRecord[][] = [];
  #waiter: (() => void) | undefined;
  /** Datagrams received and dropped by `drop` before they reached the queue. */
  dropped = 0;
  drop: ((records: readonly DtlsRecord[]) => boolean) | undefined;

  private constructor(socket: Socket, target: { readonly address: string; readonly port: number }) {
    this.socket = socket;
    this.#target = target;
    socket.on('message', (datagram) => {
      const records = parseDatagram(new Uint8Array(datagram));
      if (this.drop?.(records) === true) {
        this.dropped++;
        return;
      }
      this.#queue.push(records);
      this.#waiter?.();
    });
  }

  static async open(target: { readonly address: string; readonly port: number }): Promise<UdpTestClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new UdpTestClient(socket, target);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Each record in its own datagram, as a client with a tiny MTU would send them. */
  async send(records: readonly DtlsRecord[], oneDatagram = false): Promise<void> {
    const datagrams = oneDatagram ? [serializeDatagram(records)] : records.map((record) => serializeDatagram([record]));
    for (const datagram of datagrams) {
      await new Promise<void>((resolve, reject) => this.socket.send(datagram, this.#target.port, this.#target.address, (error) => (error ? reject(error) : resolve())));
    }
  }

  /** The next datagram's records; rejects after `timeoutMs`. */
  async next(timeoutMs = 2_000): Promise<DtlsRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const records = this.#queue.shift();
      if (records !== undefined) return records;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no datagram from the server in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Collects datagrams until `done` says so. */
  async until(done: (records: readonly DtlsRecord[]) => boolean, timeoutMs = 2_000): Promise<void> {
    for (;;) if (done(await this.next(timeoutMs))) return;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** Runs the whole handshake over UDP; resolves with the server's epoch 1 Finished records. */
export async function udpHandshake(udp: UdpTestClient, client: FragmentingTestClient): Promise<DtlsRecord[]> {
  await udp.send(client.hello());
  await udp.until((records) => (client.receive(records), client.cookie.length > 0));
  await udp.send(client.hello());
  await udp.until((records) => client.receive(records));
  await udp.send(client.secondFlight());
  const finished: DtlsRecord[] = [];
  await udp.until((records) => {
    finished.push(...records.filter((record) => record.epoch === 1 && record.type === ContentType.handshake));
    return records.some((record) => record.type === ContentType.alert) || finished.length > 0;
  });
  return finished;
}
