/**
 * The pure handshake machine with both cipher suites, fragmented flights in tiny pieces, the
 * retransmission event and refused renegotiation, driven by PskClient (fixtures/psk-client.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AlertDescription, AlertLevel, parseAlert } from '../../server/dtls/alert.ts';
import { TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8 } from '../../server/dtls/cipher-suite.ts';
import { ClientHelloAssembly } from '../../server/dtls/client-hello-assembly.ts';
import { HelloCookies, type ClientAddress } from '../../server/dtls/cookie.ts';
import { HandshakeType, parseFinished, parseHandshakeFragments, serializeHandshake, serializeHandshakeFragment } from '../../server/dtls/handshake.ts';
import { HandshakeReassembly } from '../../server/dtls/handshake-reassembly.ts';
import { ContentType, type DtlsRecord } from '../../server/dtls/record.ts';
import {
  DEFAULT_HANDSHAKE_CONFIG,
  startServerHandshake,
  stepServerHandshake,
  type ServerHandshakeAction,
  type ServerHandshakeConfig,
  type ServerHandshakeState,
} from '../../server/dtls/server-handshake.ts';
import { PskClient } from './fixtures/psk-client.ts';

const peer: ClientAddress = { address: '192.0.2.7', port: 56830 };
const psk = new Uint8Array(randomBytes(16));

function sent(actions: readonly ServerHandshakeAction[]): DtlsRecord[] {
  return actions.flatMap((action) => (action.type === 'send' ? action.records : []));
}

/** Feeds records (answering lookups with `key`) and collects what the server did. */
function feed(state: ServerHandshakeState, records: readonly DtlsRecord[], key: Uint8Array | undefined = psk) {
  let current = state;
  const actions: ServerHandshakeAction[] = [];
  const apply = (step: { state: ServerHandshakeState; actions: readonly ServerHandshakeAction[] }): void => {
    current = step.state;
    actions.push(...step.actions);
    if (step.actions.some((action) => action.type === 'lookup-psk')) apply(stepServerHandshake(current, { type: 'psk', key }));
  };
  for (const record of records) apply(stepServerHandshake(current, { type: 'record', record }));
  return { state: current, actions };
}

/** Cookie exchange through the pre-state assembly, as DtlsServer does it. */
function helloExchange(client: PskClient, config: ServerHandshakeConfig = DEFAULT_HANDSHAKE_CONFIG) {
  const cookies = new HelloCookies();
  const assembly = new ClientHelloAssembly();
  const offer = (records: readonly DtlsRecord[]) => {
    const outcomes = records.flatMap((record) => {
      const whole = assembly.accept('client', record);
      return whole === undefined ? [] : [startServerHandshake(cookies, peer, whole, config)];
    });
    assert.equal(outcomes.length, 1, 'exactly one record completes the hello');
    return outcomes[0]!;
  };
  const first = offer(client.hello());
  assert.equal(first.type, 'hello-verify-request');
  client.receive([first.record]);
  const started = offer(client.hello());
  assert.equal(started.type, 'started');
  assert.ok(client.receive(sent(started.actions)));
  return started;
}

function establish(client: PskClient, config?: ServerHandshakeConfig) {
  const started = helloExchange(client, config);
  const end = feed(started.state, client.secondFlight());
  assert.equal(end.state.phase, 'established');
  return { started, ...end };
}

function serverFinishedData(client: PskClient, records: readonly DtlsRecord[]): Uint8Array {
  let reassembly = new HandshakeReassembly();
  for (const record of records.filter((r) => r.epoch === 1)) {
    for (const fragment of parseHandshakeFragments(client.open(record))) {
      const step = reassembly.add(fragment);
      reassembly = step.reassembly;
      if (step.message !== undefined) return parseFinished(step.message.body);
    }
  }
  throw new Error('no whole server Finished');
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomBytes(1)[0]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('cipher suite negotiation', () => {
  it('completes with each suite, and application data flows both ways', () => {
    for (const suite of [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256]) {
      const client = new PskClient({ psk, suites: [suite] });
      const { actions } = establish(client);
      assert.equal(client.chosenSuite, suite);
      assert.deepEqual(serverFinishedData(client, sent(actions)), client.expectedServerFinished());
      const established = actions.find((action) => action.type === 'established');
      assert.ok(established?.type === 'established');
      const up = client.protect(ContentType.applicationData, new TextEncoder().encode('POST /bs'));
      assert.equal(new TextDecoder().decode(established.session.decryptApplicationData(up)), 'POST /bs');
      assert.equal(new TextDecoder().decode(client.open(established.session.encryptApplicationData(new TextEncoder().encode('2.04')))), '2.04');
    }
  });

  it("picks the server's most preferred suite among those offered", () => {
    const offered = [TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8];
    const byDefault = new PskClient({ psk, suites: offered });
    helloExchange(byDefault);
    assert.equal(byDefault.chosenSuite, TLS_PSK_WITH_AES_128_CCM_8);
    const cbcFirst = new PskClient({ psk, suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256] });
    helloExchange(cbcFirst, { ...DEFAULT_HANDSHAKE_CONFIG, cipherSuites: [TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8] });
    assert.equal(cbcFirst.chosenSuite, TLS_PSK_WITH_AES_128_CBC_SHA256);
  });
});

describe('fragmented flights (RFC 6347 4.2.3)', () => {
  for (const suite of [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256]) {
    it(`completes with 3-byte client fragments, shuffled and repeated, and 5-byte server fragments (0x${suite.toString(16)})`, () => {
      const client = new PskClient({ psk, suites: [suite], maxFragment: 3 });
      const config = { ...DEFAULT_HANDSHAKE_CONFIG, maxHandshakeFragment: 5 };
      const started = helloExchange(client, config);
      const flight = sent(started.actions);
      assert.ok(flight.length > 8, 'the ServerHello went out in many records');
      for (const record of flight) for (const fragment of parseHandshakeFragments(record.fragment)) assert.ok(fragment.body.length <= 5);

      const keyExchange = client.keyExchange();
      const changeCipherSpec = client.changeCipherSpec();
      const finished = client.finished();
      assert.ok(keyExchange.length > 5 && finished.length === 4);
      // Epoch 0 pieces in any order with a repeat; the Finished pieces shuffled after the CCS.
      const order = [...shuffled([...keyExchange, keyExchange[1]!]), changeCipherSpec, ...shuffled(finished)];
      const { state, actions } = feed(started.state, order);
      assert.equal(state.phase, 'established');
      assert.deepEqual(actions.filter((a) => a.type === 'lookup-psk').length, 1);
      const serverFinished = sent(actions).filter((record) => record.epoch === 1);
      assert.equal(serverFinished.length, 3, '12 bytes of verify_data in 5-byte fragments');
      assert.deepEqual(serverFinishedData(client, serverFinished), client.expectedServerFinished());
    });
  }

  it('fails a fragmented Finished under a wrong key with decrypt_error, like a whole one', () => {
    const client = new PskClient({ psk: new Uint8Array(randomBytes(16)), maxFragment: 4 });
    const started = helloExchange(client);
    const { state, actions } = feed(started.state, client.secondFlight(), psk);
    assert.deepEqual(state, { phase: 'failed', alert: AlertDescription.decryptError });
    const alerts = sent(actions).filter((record) => record.type === ContentType.alert);
    assert.deepEqual(alerts.map((record) => parseAlert(record.fragment)), [{ level: AlertLevel.fatal, description: AlertDescription.decryptError }]);
  });

  it('a Finished fragment that disagrees on the message length ends the handshake with illegal_parameter', () => {
    const client = new PskClient({ psk });
    const started = helloExchange(client);
    const keyExchange = client.keyExchange();
    const ccs = client.changeCipherSpec();
    const part = { msgType: HandshakeType.finished, length: 12, messageSeq: 3, fragmentOffset: 0, body: new Uint8Array(6) };
    const first = client.protect(ContentType.handshake, serializeHandshakeFragment(part));
    const disagreeing = client.protect(ContentType.handshake, serializeHandshakeFragment({ ...part, length: 13, fragmentOffset: 6 }));
    const { state } = feed(started.state, [...keyExchange, ccs, first, disagreeing]);
    assert.deepEqual(state, { phase: 'failed', alert: AlertDescription.illegalParameter });
  });
});

describe('flight retransmission as an event (RFC 6347 4.2.4)', () => {
  it('resends the ServerHello flight under fresh record numbers while waiting, and not after', () => {
    const client = new PskClient({ psk });
    const started = helloExchange(client, { ...DEFAULT_HANDSHAKE_CONFIG, maxHandshakeFragment: 16 });
    const original = sent(started.actions);
    const once = stepServerHandshake(started.state, { type: 'retransmit' });
    const twice = stepServerHandshake(once.state, { type: 'retransmit' });
    for (const again of [sent(once.actions), sent(twice.actions)]) {
      assert.deepEqual(again.map((r) => r.fragment), original.map((r) => r.fragment));
    }
    const numbers = [...original, ...sent(once.actions), ...sent(twice.actions)].map((r) => r.sequenceNumber);
    assert.equal(new Set(numbers).size, numbers.length, 'no record number repeats');
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b));

    const { state } = feed(twice.state, client.keyExchange());
    assert.equal(state.phase, 'awaiting-finished');
    assert.deepEqual(stepServerHandshake(state, { type: 'retransmit' }).actions, []);
    const end = feed(state, [client.changeCipherSpec(), ...client.finished()]);
    assert.equal(end.state.phase, 'established');
    assert.deepEqual(stepServerHandshake(end.state, { type: 'retransmit' }).actions, []);
  });

  it('answers a retransmitted, fragmented Finished with the last flight once per retransmission', () => {
    const client = new PskClient({ psk, maxFragment: 5 });
    const { state, actions } = establish(client, { ...DEFAULT_HANDSHAKE_CONFIG, maxHandshakeFragment: 5 });
    const again = feed(state, client.finishedAgain());
    const records = sent(again.actions);
    assert.deepEqual(records.map((r) => r.type), [ContentType.changeCipherSpec, ContentType.handshake, ContentType.handshake, ContentType.handshake]);
    assert.deepEqual(serverFinishedData(client, records), serverFinishedData(client, sent(actions)));
  });
});

describe('no renegotiation (RFC 5246 7.2.2)', () => {
  it('answers a ClientHello inside the session with a warning no_renegotiation, and the session goes on', () => {
    const client = new PskClient({ psk, suites: [TLS_PSK_WITH_AES_128_CBC_SHA256] });
    const { state, actions } = establish(client);
    const hello = client.protect(ContentType.handshake, serializeHandshake(HandshakeType.clientHello, 4, client.helloBody()));
    const step = stepServerHandshake(state, { type: 'record', record: hello });
    assert.equal(step.state, state);
    const [alert, ...rest] = sent(step.actions);
    assert.equal(rest.length, 0);
    assert.deepEqual({ type: alert?.type, epoch: alert?.epoch }, { type: ContentType.alert, epoch: 1 });
    assert.deepEqual(parseAlert(client.open(alert!)), { level: AlertLevel.warning, description: AlertDescription.noRenegotiation });
    const established = actions.find((action) => action.type === 'established');
    assert.ok(established?.type === 'established');
    const up = client.protect(ContentType.applicationData, new Uint8Array([7]));
    assert.deepEqual(established.session.decryptApplicationData(up), new Uint8Array([7]));
  });
});
