/**
 * The pure server handshake state machine, one whole message per record, driven by PskClient
 * (fixtures/psk-client.ts): the cookie exchange, the PSK key exchange and Finished, failures,
 * replay and retransmission. PskClient shares the server's codecs and so their mistakes; interop
 * is tested against OpenSSL s_client (openssl-interop.test.ts), node-dtls-client
 * (node-dtls-client-interop.test.ts) and libcoap's OpenSSL and GnuTLS clients
 * (test/e2e/coaps-libcoap.test.ts). Both suites and fragmented flights: server-handshake-suites.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isCodecError } from '../../shared/errors.ts';
import { AlertDescription, parseAlert } from '../../server/dtls/alert.ts';
import { HelloCookies, type ClientAddress } from '../../server/dtls/cookie.ts';
import type { EstablishedSession } from '../../server/dtls/established-session.ts';
import { HandshakeType, parseFinished, parseHandshakeFragments, parseHelloVerifyRequest, parseServerHello, serializeHandshakeFragment } from '../../server/dtls/handshake.ts';
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
import { flipBit } from './fixtures/record-protection.ts';
import { PskClient } from './fixtures/psk-client.ts';

const peer: ClientAddress = { address: '192.0.2.7', port: 56830 };
const IDENTITY = 'urn:imei:490154203237518';
const psk = new Uint8Array(randomBytes(16));
/** A client that offers both suites; the server's default preference picks CCM_8. */
const newClient = (suites?: readonly number[]): PskClient => new PskClient({ identity: IDENTITY, psk, ...(suites === undefined ? {} : { suites }) });

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
const records = (rs: readonly DtlsRecord[]): ServerHandshakeEvent[] => rs.map(record);

/** Cookie exchange and the ServerHello flight; returns the server state awaiting ClientKeyExchange. */
function helloExchange(client: PskClient, cookies = new HelloCookies()): ServerHandshakeState {
  const first = startServerHandshake(cookies, peer, client.helloRecord());
  assert.equal(first.type, 'hello-verify-request');
  client.receive([first.record]);
  const second = startServerHandshake(cookies, peer, client.helloRecord());
  assert.equal(second.type, 'started');
  assert.ok(client.receive(sent(second.actions)));
  assert.deepEqual(
    client.serverFlight?.map((m) => [m.msgType, m.messageSeq]),
    [[HandshakeType.serverHello, 1], [HandshakeType.serverHelloDone, 2]],
  );
  return second.state;
}

/** A whole handshake where the server's store answers the lookup with `key`. */
function handshake(client: PskClient, serverKey: Uint8Array | undefined) {
  const state = helloExchange(client);
  const first = run(state, records(client.secondFlight()));
  assert.deepEqual(first.actions, [{ type: 'lookup-psk', identity: new TextEncoder().encode(IDENTITY) }]);
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
    const client = newClient();
    client.plain(ContentType.handshake, new Uint8Array(0)); // the client's first record is seq 1 here
    const hello = client.helloRecord();
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
    const client = newClient();
    const first = startServerHandshake(cookies, peer, client.helloRecord());
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const forged = cookie.slice();
    forged[0]! ^= 1;
    assert.equal(startServerHandshake(cookies, peer, client.helloRecord(forged, 1)).type, 'hello-verify-request');
    assert.equal(startServerHandshake(cookies, { ...peer, port: peer.port + 1 }, client.helloRecord(cookie, 1)).type, 'hello-verify-request');
    assert.equal(startServerHandshake(cookies, peer, client.helloRecord(cookie, 1)).type, 'started');
  });

  it('rejects a verified hello with no suite in common with handshake_failure and no state', () => {
    // 0xc0a9 (PSK AES-256-CCM-8) is not supported; 0x00ae is, but this server is configured without it.
    const config = { ...DEFAULT_HANDSHAKE_CONFIG, cipherSuites: [TLS_PSK_WITH_AES_128_CCM_8] };
    for (const suites of [[0xc0a9], [0x00ae, 0xc0a9]]) {
      const cookies = new HelloCookies();
      const client = newClient(suites);
      const first = startServerHandshake(cookies, peer, client.helloRecord(), config);
      assert.equal(first.type, 'hello-verify-request');
      const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
      const outcome = startServerHandshake(cookies, peer, client.helloRecord(cookie, 1), config);
      assert.equal(outcome.type, 'rejected');
      assert.equal(outcome.alert, AlertDescription.handshakeFailure);
      assert.deepEqual(parseAlert(outcome.record.fragment), { level: 2, description: AlertDescription.handshakeFailure });
    }
  });

  it('ServerHello picks 0xC0A8, null compression, an empty session id and no extensions', () => {
    const cookies = new HelloCookies();
    const client = newClient();
    const first = startServerHandshake(cookies, peer, client.helloRecord());
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const second = startServerHandshake(cookies, peer, client.helloRecord(cookie, 1));
    assert.equal(second.type, 'started');
    const [serverHello, done] = sent(second.actions).flatMap((r) => parseHandshakeFragments(r.fragment));
    const hello = parseServerHello(serverHello!.body);
    assert.deepEqual({ ...hello, random: undefined }, { serverVersion: DTLS_1_2, random: undefined, sessionId: new Uint8Array(0), cipherSuite: 0xc0a8, compressionMethod: 0, extensions: undefined });
    assert.equal(done?.msgType, HandshakeType.serverHelloDone);
    assert.equal(done.body.length, 0);
  });

  it('refuses a fragmented handshake message with a typed error', () => {
    const client = newClient();
    const body = client.helloBody();
    const fragment = serializeHandshakeFragment({ msgType: HandshakeType.clientHello, length: body.length, messageSeq: 0, fragmentOffset: 0, body: body.subarray(0, 10) });
    assert.throws(
      () => startServerHandshake(new HelloCookies(), peer, client.plain(ContentType.handshake, fragment)),
      (error: unknown) => isCodecError(error) && error.code === 'UNSUPPORTED' && error.field === 'fragment_length',
    );
  });
});

describe('server handshake: PSK key exchange and Finished', () => {
  it('completes, and the keys protect application data both ways', () => {
    const client = newClient();
    const { state, actions } = handshake(client, psk);
    assert.equal(state.phase, 'established');
    const [changeCipherSpec, finished] = sent(actions);
    assert.deepEqual({ type: changeCipherSpec?.type, epoch: changeCipherSpec?.epoch, fragment: changeCipherSpec?.fragment }, { type: ContentType.changeCipherSpec, epoch: 0, fragment: new Uint8Array([1]) });
    assert.equal(finished?.epoch, 1);
    const [message] = parseHandshakeFragments(client.open(finished));
    assert.equal(message?.msgType, HandshakeType.finished);
    assert.equal(message.messageSeq, 3);
    assert.deepEqual(parseFinished(message.body), client.expectedServerFinished());

    const session = establishedSession(actions);
    const up = client.protect(ContentType.applicationData, new TextEncoder().encode('POST /bs?ep=dev'));
    assert.equal(new TextDecoder().decode(session.decryptApplicationData(up)), 'POST /bs?ep=dev');
    const down = session.encryptApplicationData(new TextEncoder().encode('2.04 Changed'));
    assert.deepEqual({ type: down.type, epoch: down.epoch, sequenceNumber: down.sequenceNumber }, { type: ContentType.applicationData, epoch: 1, sequenceNumber: 1 });
    assert.equal(new TextDecoder().decode(client.open(down)), '2.04 Changed');
  });

  it('completes when the key arrives before the ChangeCipherSpec and Finished', () => {
    const client = newClient();
    const state = helloExchange(client);
    const { state: end, actions } = run(state, [
      ...records(client.keyExchange()),
      { type: 'psk', key: psk },
      record(client.changeCipherSpec()),
      ...records(client.finished()),
    ]);
    assert.equal(end.phase, 'established');
    assert.ok(actions.some((a) => a.type === 'established'));
  });

  it('completes when the Finished overtakes the ChangeCipherSpec', () => {
    const client = newClient();
    const state = helloExchange(client);
    const keyExchange = client.keyExchange();
    const changeCipherSpec = client.changeCipherSpec();
    const finished = client.finished();
    const { state: end } = run(state, [...records(keyExchange), { type: 'psk', key: psk }, ...records(finished), record(changeCipherSpec)]);
    assert.equal(end.phase, 'established');
  });

  it('ends a wrong key and an unknown identity with the same decrypt_error alert', () => {
    const wrong = handshake(newClient(), new Uint8Array(randomBytes(16)));
    const unknown = handshake(newClient(), undefined);
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
    const tamperedData = newClient();
    const first = run(helloExchange(tamperedData), [
      ...records(tamperedData.keyExchange()),
      record(tamperedData.changeCipherSpec()),
      ...records(tamperedData.finished({ corruptVerifyData: true })),
      { type: 'psk', key: psk },
    ]);
    assert.deepEqual(first.state, { phase: 'failed', alert: AlertDescription.decryptError });

    const tamperedBytes = newClient();
    const state = helloExchange(tamperedBytes);
    const keyExchange = tamperedBytes.keyExchange();
    const changeCipherSpec = tamperedBytes.changeCipherSpec();
    const [good] = tamperedBytes.finished();
    const second = run(state, [...records(keyExchange), record(changeCipherSpec), { type: 'psk', key: psk }, record({ ...good!, fragment: flipBit(good!.fragment, 12 * 8 + 7) })]);
    assert.deepEqual(second.state, { phase: 'failed', alert: AlertDescription.decryptError });
    assert.deepEqual(sentAlert(second.actions).description, AlertDescription.decryptError);
  });

  it('drops replayed and forged application records', () => {
    const client = newClient();
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
    const client = newClient();
    const first = startServerHandshake(cookies, peer, client.helloRecord());
    assert.equal(first.type, 'hello-verify-request');
    const cookie = parseHelloVerifyRequest(parseHandshakeFragments(first.record.fragment)[0]!.body).cookie;
    const started = startServerHandshake(cookies, peer, client.helloRecord(cookie, 1));
    assert.equal(started.type, 'started');
    const retransmitted = stepServerHandshake(started.state, record(client.helloRecord(cookie, 1)));
    const originalFlight = sent(started.actions);
    const againFlight = sent(retransmitted.actions);
    assert.deepEqual(againFlight.map((r) => r.fragment), originalFlight.map((r) => r.fragment));
    assert.ok(againFlight[0]!.sequenceNumber > originalFlight.at(-1)!.sequenceNumber);

    assert.ok(client.receive(originalFlight));
    const done = run(retransmitted.state, [...records(client.keyExchange()), record(client.changeCipherSpec()), { type: 'psk', key: psk }]);
    const [finished] = client.finished();
    const established = stepServerHandshake(done.state, record(finished!));
    assert.equal(established.state.phase, 'established');
    const [, serverFinished] = sent(established.actions);
    // Our Finished was lost: the client sends its Finished again under a new record number.
    const [finishedAgain] = client.finishedAgain();
    const repeated = stepServerHandshake(established.state, record(finishedAgain!));
    const [changeCipherSpec, serverFinishedAgain] = sent(repeated.actions);
    assert.equal(changeCipherSpec?.type, ContentType.changeCipherSpec);
    assert.ok(serverFinishedAgain!.sequenceNumber > serverFinished!.sequenceNumber);
    assert.deepEqual(client.open(serverFinishedAgain!), client.open(serverFinished!));
    // A replay of that same record is dropped, not answered.
    assert.deepEqual(stepServerHandshake(repeated.state, record(finished!)).actions, []);
  });
});
