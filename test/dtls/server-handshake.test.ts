/**
 * The server handshake state machine driven by a minimal client written here from the same
 * primitives (record, handshake, prf, ccm8). This is NOT an interop test: a client built from our
 * own codecs shares their mistakes. Interop with openssl s_client, gnutls and libcoap's
 * coap-client-openssl/-gnutls over real sockets is the next step.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCodecError } from '../../shared/errors.ts';
import { AlertDescription, parseAlert } from '../../server/dtls/alert.ts';
import { decryptCcm8, encryptCcm8, type Ccm8Keys } from '../../server/dtls/ccm8.ts';
import { HelloCookies, type ClientAddress } from '../../server/dtls/cookie.ts';
import type { EstablishedSession } from '../../server/dtls/established-session.ts';
import {
  HandshakeType,
  parseFinished,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parseServerHello,
  serializeClientHello,
  serializeFinished,
  serializeHandshake,
  serializeHandshakeFragment,
  serializePskClientKeyExchange,
  type HandshakeFragment,
} from '../../server/dtls/handshake.ts';
import { HandshakeTranscript } from '../../server/dtls/handshake-transcript.ts';
import { AES_128_CCM_8_LAYOUT, keyBlock, masterSecret, pskPremasterSecret, verifyData } from '../../server/dtls/prf.ts';
import { ContentType, DTLS_1_0, DTLS_1_2, type DtlsRecord } from '../../server/dtls/record.ts';
import {
  DEFAULT_HANDSHAKE_CONFIG,
  startServerHandshake,
  stepServerHandshake,
  TLS_PSK_WITH_AES_128_CCM_8,
  type ServerHandshakeAction,
  type ServerHandshakeEvent,
  type ServerHandshakeState,
  type ServerHandshakeStep,
} from '../../server/dtls/server-handshake.ts';

const peer: ClientAddress = { address: '192.0.2.7', port: 56830 };
const identity = new TextEncoder().encode('urn:imei:490154203237518');
const psk = new Uint8Array(randomBytes(16));

/** The client half, just enough to complete one handshake. */
class TestClient {
  readonly random = new Uint8Array(randomBytes(32));
  readonly suites: readonly number[];
  #recordSeq = 0;
  #epochOneSeq = 0;
  transcript = new HandshakeTranscript();
  serverRandom: Uint8Array = new Uint8Array(0);
  master: Uint8Array = new Uint8Array(0);
  write: Ccm8Keys = { key: new Uint8Array(16), implicitIv: new Uint8Array(4) };
  read: Ccm8Keys = { key: new Uint8Array(16), implicitIv: new Uint8Array(4) };
  finishedMessage: Uint8Array = new Uint8Array(0);

  constructor(suites: readonly number[] = [TLS_PSK_WITH_AES_128_CCM_8, 0x00ae]) {
    this.suites = suites;
  }

  helloBody(cookie: Uint8Array): Uint8Array {
    return serializeClientHello({
      clientVersion: DTLS_1_2,
      random: this.random,
      sessionId: new Uint8Array(0),
      cookie,
      cipherSuites: this.suites,
      compressionMethods: new Uint8Array([0]),
      extensions: undefined,
    });
  }

  plain(type: ContentType, fragment: Uint8Array, version = DTLS_1_2): DtlsRecord {
    return { type, version, epoch: 0, sequenceNumber: this.#recordSeq++, fragment };
  }

  hello(cookie: Uint8Array, messageSeq: number): DtlsRecord {
    return this.plain(ContentType.handshake, serializeHandshake(HandshakeType.clientHello, messageSeq, this.helloBody(cookie)), DTLS_1_0);
  }

  /** Records the second hello and the server's flight in the transcript. */
  acceptServerFlight(cookie: Uint8Array, records: readonly DtlsRecord[]): HandshakeFragment[] {
    const messages = records.flatMap((record) => parseHandshakeFragments(record.fragment));
    this.transcript = this.transcript.with(HandshakeType.clientHello, 1, this.helloBody(cookie));
    for (const message of messages) this.transcript = this.transcript.with(message.msgType as HandshakeType, message.messageSeq, message.body);
    this.serverRandom = parseServerHello(messages[0]!.body).random;
    return messages;
  }

  keyExchange(key: Uint8Array, pskIdentity = identity): DtlsRecord {
    const body = serializePskClientKeyExchange({ pskIdentity });
    this.transcript = this.transcript.with(HandshakeType.clientKeyExchange, 2, body);
    this.master = masterSecret(pskPremasterSecret(key), this.random, this.serverRandom);
    const block = keyBlock(this.master, this.random, this.serverRandom, AES_128_CCM_8_LAYOUT);
    this.write = { key: block.clientWriteKey, implicitIv: block.clientWriteIv };
    this.read = { key: block.serverWriteKey, implicitIv: block.serverWriteIv };
    return this.plain(ContentType.handshake, serializeHandshake(HandshakeType.clientKeyExchange, 2, body));
  }

  changeCipherSpec(): DtlsRecord {
    return this.plain(ContentType.changeCipherSpec, new Uint8Array([1]));
  }

  protect(type: ContentType, plaintext: Uint8Array): DtlsRecord {
    const context = { type, version: DTLS_1_2, epoch: 1, sequenceNumber: this.#epochOneSeq++ };
    return { ...context, fragment: encryptCcm8(this.write, context, plaintext) };
  }

  finished(tamper = false): DtlsRecord {
    const data = verifyData(this.master, 'client finished', this.transcript.hash());
    if (tamper) data[0]! ^= 1;
    const body = serializeFinished(data);
    this.transcript = this.transcript.with(HandshakeType.finished, 3, body);
    this.finishedMessage = serializeHandshake(HandshakeType.finished, 3, body);
    return this.protect(ContentType.handshake, this.finishedMessage);
  }

  open(record: DtlsRecord): Uint8Array {
    return decryptCcm8(this.read, record, record.fragment);
  }
}

function sent(actions: readonly ServerHandshakeAction[]): DtlsRecord[] {
  return actions.flatMap((action) => (action.type === 'send' ? action.records : []));
}

function run(state: ServerHandshakeState, events: readonly ServerHandshakeEvent[]): { state: ServerHandshakeState; actions: ServerHandshakeAction[] } {
  const actions: ServerHandshakeAction[] = [];
  let current = state;
  for (const event of events) {
    const step: ServerHandshakeStep = stepServerHandshake(current, event);
    current = step.state;
    actions.push(...step.actions);
  }
  return { state: current, actions };
}

const record = (r: DtlsRecord): ServerHandshakeEvent => ({ type: 'record', record: r });

/** Cookie exchange and the ServerHello flight; returns the server state awaiting ClientKeyExchange. */
function helloExchange(client: TestClient, cookies = new HelloCookies()): ServerHandshakeState {
  const first = startServerHandshake(cookies, peer, client.hello(new Uint8Array(0), 0));
  assert.equal(first.type, 'hello-verify-request');
  const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
  const second = startServerHandshake(cookies, peer, client.hello(cookie, 1));
  assert.equal(second.type, 'started');
  const messages = client.acceptServerFlight(cookie, sent(second.actions));
  assert.deepEqual(
    messages.map((m) => [m.msgType, m.messageSeq]),
    [[HandshakeType.serverHello, 1], [HandshakeType.serverHelloDone, 2]],
  );
  return second.state;
}

/** A whole handshake where the server's store answers the lookup with `key`. */
function handshake(client: TestClient, serverKey: Uint8Array | undefined, clientKey = psk) {
  const state = helloExchange(client);
  const first = run(state, [record(client.keyExchange(clientKey)), record(client.changeCipherSpec()), record(client.finished())]);
  assert.deepEqual(first.actions, [{ type: 'lookup-psk', identity }]);
  assert.equal(first.state.phase, 'awaiting-psk');
  return run(first.state, [{ type: 'psk', key: serverKey }]);
}

function establishedSession(actions: readonly ServerHandshakeAction[]): EstablishedSession {
  const established = actions.find((action) => action.type === 'established');
  assert.ok(established?.type === 'established');
  return established.session;
}

function sentAlert(actions: readonly ServerHandshakeAction[]): { epoch: number; level: number; description: number } {
  const alerts = sent(actions).filter((r) => r.type === ContentType.alert);
  assert.equal(alerts.length, 1);
  return { epoch: alerts[0]!.epoch, ...parseAlert(alerts[0]!.fragment) };
}

describe('server handshake: cookie exchange (RFC 6347 4.2.1)', () => {
  it('answers a hello without cookie with a HelloVerifyRequest echoing message_seq and record sequence, and keeps no state', () => {
    const cookies = new HelloCookies();
    const client = new TestClient();
    client.plain(ContentType.handshake, new Uint8Array(0)); // the client's first record is seq 1 here
    const hello = client.hello(new Uint8Array(0), 0);
    const outcome = startServerHandshake(cookies, peer, hello);
    assert.equal(outcome.type, 'hello-verify-request');
    assert.deepEqual(Object.keys(outcome).sort(), ['record', 'type']);
    assert.equal(outcome.record.sequenceNumber, hello.sequenceNumber);
    assert.equal(outcome.record.version, DTLS_1_0);
    const [message] = parseHandshakeFragments(outcome.record.fragment);
    assert.equal(message?.msgType, HandshakeType.helloVerifyRequest);
    assert.equal(message.messageSeq, 0);
    // Stateless: the same hello gets the same cookie again.
    const again = startServerHandshake(cookies, peer, hello);
    assert.deepEqual(again, outcome);
  });

  it('answers a wrong cookie, or the right cookie from another address, with a new HelloVerifyRequest', () => {
    const cookies = new HelloCookies();
    const client = new TestClient();
    const first = startServerHandshake(cookies, peer, client.hello(new Uint8Array(0), 0));
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const forged = cookie.slice();
    forged[0]! ^= 1;
    assert.equal(startServerHandshake(cookies, peer, client.hello(forged, 1)).type, 'hello-verify-request');
    assert.equal(startServerHandshake(cookies, { ...peer, port: peer.port + 1 }, client.hello(cookie, 1)).type, 'hello-verify-request');
    assert.equal(startServerHandshake(cookies, peer, client.hello(cookie, 1)).type, 'started');
  });

  it('rejects a verified hello with no suite in common with handshake_failure and no state', () => {
    // 0xc0a9 (PSK AES-256-CCM-8) is not supported; 0x00ae is, but this server is configured without it.
    const config = { ...DEFAULT_HANDSHAKE_CONFIG, cipherSuites: [TLS_PSK_WITH_AES_128_CCM_8] };
    for (const suites of [[0xc0a9], [0x00ae, 0xc0a9]]) {
      const cookies = new HelloCookies();
      const client = new TestClient(suites);
      const first = startServerHandshake(cookies, peer, client.hello(new Uint8Array(0), 0), config);
      assert.equal(first.type, 'hello-verify-request');
      const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
      const outcome = startServerHandshake(cookies, peer, client.hello(cookie, 1), config);
      assert.equal(outcome.type, 'rejected');
      assert.equal(outcome.alert, AlertDescription.handshakeFailure);
      assert.deepEqual(parseAlert(outcome.record.fragment), { level: 2, description: AlertDescription.handshakeFailure });
    }
  });

  it('ServerHello picks 0xC0A8, null compression, an empty session id and no extensions', () => {
    const cookies = new HelloCookies();
    const client = new TestClient();
    const first = startServerHandshake(cookies, peer, client.hello(new Uint8Array(0), 0));
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const second = startServerHandshake(cookies, peer, client.hello(cookie, 1));
    assert.equal(second.type, 'started');
    const [serverHello, done] = sent(second.actions).flatMap((r) => parseHandshakeFragments(r.fragment));
    const hello = parseServerHello(serverHello!.body);
    assert.deepEqual({ ...hello, random: undefined }, { serverVersion: DTLS_1_2, random: undefined, sessionId: new Uint8Array(0), cipherSuite: 0xc0a8, compressionMethod: 0, extensions: undefined });
    assert.equal(done?.msgType, HandshakeType.serverHelloDone);
    assert.equal(done.body.length, 0);
  });

  it('refuses a fragmented handshake message with a typed error', () => {
    const client = new TestClient();
    const body = client.helloBody(new Uint8Array(0));
    const fragment = serializeHandshakeFragment({ msgType: HandshakeType.clientHello, length: body.length, messageSeq: 0, fragmentOffset: 0, body: body.subarray(0, 10) });
    assert.throws(
      () => startServerHandshake(new HelloCookies(), peer, client.plain(ContentType.handshake, fragment)),
      (error: unknown) => isCodecError(error) && error.code === 'UNSUPPORTED' && error.field === 'fragment_length',
    );
  });
});

describe('server handshake: PSK key exchange and Finished', () => {
  it('completes, and the keys protect application data both ways', () => {
    const client = new TestClient();
    const { state, actions } = handshake(client, psk);
    assert.equal(state.phase, 'established');
    const [changeCipherSpec, finished] = sent(actions);
    assert.deepEqual({ type: changeCipherSpec?.type, epoch: changeCipherSpec?.epoch, fragment: changeCipherSpec?.fragment }, { type: ContentType.changeCipherSpec, epoch: 0, fragment: new Uint8Array([1]) });
    assert.equal(finished?.epoch, 1);
    const [message] = parseHandshakeFragments(client.open(finished));
    assert.equal(message?.msgType, HandshakeType.finished);
    assert.equal(message.messageSeq, 3);
    assert.deepEqual(parseFinished(message.body), verifyData(client.master, 'server finished', client.transcript.hash()));

    const session = establishedSession(actions);
    const up = client.protect(ContentType.applicationData, new TextEncoder().encode('POST /bs?ep=dev'));
    assert.equal(new TextDecoder().decode(session.decryptApplicationData(up)), 'POST /bs?ep=dev');
    const down = session.encryptApplicationData(new TextEncoder().encode('2.04 Changed'));
    assert.deepEqual({ type: down.type, epoch: down.epoch, sequenceNumber: down.sequenceNumber }, { type: ContentType.applicationData, epoch: 1, sequenceNumber: 1 });
    assert.equal(new TextDecoder().decode(client.open(down)), '2.04 Changed');
  });

  it('completes when the key arrives before the ChangeCipherSpec and Finished', () => {
    const client = new TestClient();
    const state = helloExchange(client);
    const { state: end, actions } = run(state, [
      record(client.keyExchange(psk)),
      { type: 'psk', key: psk },
      record(client.changeCipherSpec()),
      record(client.finished()),
    ]);
    assert.equal(end.phase, 'established');
    assert.ok(actions.some((a) => a.type === 'established'));
  });

  it('completes when the Finished overtakes the ChangeCipherSpec', () => {
    const client = new TestClient();
    const state = helloExchange(client);
    const keyExchange = client.keyExchange(psk);
    const changeCipherSpec = client.changeCipherSpec();
    const finished = client.finished();
    const { state: end } = run(state, [record(keyExchange), { type: 'psk', key: psk }, record(finished), record(changeCipherSpec)]);
    assert.equal(end.phase, 'established');
  });

  it('ends a wrong key and an unknown identity with the same decrypt_error alert', () => {
    const wrong = handshake(new TestClient(), new Uint8Array(randomBytes(16)));
    const unknown = handshake(new TestClient(), undefined);
    for (const outcome of [wrong, unknown]) {
      assert.deepEqual(outcome.state, { phase: 'failed', alert: AlertDescription.decryptError });
      assert.deepEqual(sentAlert(outcome.actions), { epoch: 0, level: 2, description: AlertDescription.decryptError });
      assert.ok(!outcome.actions.some((a) => a.type === 'established'));
    }
    assert.deepEqual(
      wrong.actions.map((a) => a.type),
      unknown.actions.map((a) => a.type),
    );
  });

  it('fails a Finished with wrong verify_data, and one whose ciphertext was altered', () => {
    const tamperedData = new TestClient();
    const first = run(helloExchange(tamperedData), [
      record(tamperedData.keyExchange(psk)),
      record(tamperedData.changeCipherSpec()),
      record(tamperedData.finished(true)),
      { type: 'psk', key: psk },
    ]);
    assert.deepEqual(first.state, { phase: 'failed', alert: AlertDescription.decryptError });

    const tamperedBytes = new TestClient();
    const state = helloExchange(tamperedBytes);
    const keyExchange = tamperedBytes.keyExchange(psk);
    const changeCipherSpec = tamperedBytes.changeCipherSpec();
    const good = tamperedBytes.finished();
    const fragment = good.fragment.slice();
    fragment[12]! ^= 0x80;
    const second = run(state, [record(keyExchange), record(changeCipherSpec), { type: 'psk', key: psk }, record({ ...good, fragment })]);
    assert.deepEqual(second.state, { phase: 'failed', alert: AlertDescription.decryptError });
    assert.deepEqual(sentAlert(second.actions).description, AlertDescription.decryptError);
  });

  it('drops replayed and forged application records', () => {
    const client = new TestClient();
    const session = establishedSession(handshake(client, psk).actions);
    const up = client.protect(ContentType.applicationData, new Uint8Array([1, 2, 3]));
    assert.deepEqual(session.decryptApplicationData(up), new Uint8Array([1, 2, 3]));
    assert.equal(session.decryptApplicationData(up), undefined);
    const forged = client.protect(ContentType.applicationData, new Uint8Array([4]));
    const flipped = forged.fragment.slice();
    flipped[flipped.length - 1]! ^= 1;
    assert.equal(session.decryptApplicationData({ ...forged, fragment: flipped }), undefined);
    // The forgery did not take its sequence number: the genuine record still gets through, once.
    assert.deepEqual(session.decryptApplicationData(forged), new Uint8Array([4]));
    assert.equal(session.decryptApplicationData(forged), undefined);
  });

  it('repeats its flights when the client retransmits (RFC 6347 4.2.4)', () => {
    const cookies = new HelloCookies();
    const client = new TestClient();
    const first = startServerHandshake(cookies, peer, client.hello(new Uint8Array(0), 0));
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const started = startServerHandshake(cookies, peer, client.hello(cookie, 1));
    assert.equal(started.type, 'started');
    const retransmitted = stepServerHandshake(started.state, record(client.hello(cookie, 1)));
    const originalFlight = sent(started.actions);
    const againFlight = sent(retransmitted.actions);
    assert.deepEqual(againFlight.map((r) => r.fragment), originalFlight.map((r) => r.fragment));
    assert.ok(againFlight[0]!.sequenceNumber > originalFlight.at(-1)!.sequenceNumber);

    client.acceptServerFlight(cookie, originalFlight);
    const done = run(retransmitted.state, [record(client.keyExchange(psk)), record(client.changeCipherSpec()), { type: 'psk', key: psk }]);
    const finished = client.finished();
    const established = stepServerHandshake(done.state, record(finished));
    assert.equal(established.state.phase, 'established');
    const [, serverFinished] = sent(established.actions);
    // Our Finished was lost: the client sends its Finished again under a new record number.
    const repeated = stepServerHandshake(established.state, record(client.protect(ContentType.handshake, client.finishedMessage)));
    const [changeCipherSpec, serverFinishedAgain] = sent(repeated.actions);
    assert.equal(changeCipherSpec?.type, ContentType.changeCipherSpec);
    assert.ok(serverFinishedAgain!.sequenceNumber > serverFinished!.sequenceNumber);
    assert.deepEqual(client.open(serverFinishedAgain!), client.open(serverFinished!));
    // A replay of that same record is dropped, not answered.
    assert.deepEqual(stepServerHandshake(repeated.state, record(finished)).actions, []);
  });
});
