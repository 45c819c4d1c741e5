/**
 * Properties of everything in the DTLS server that reads peer bytes: fed captured valid datagrams
 * with bits flipped, bytes inserted or deleted, lengths changed or cut short (and plain random
 * bytes), the parsers and the pure handshake machine return a value or throw a CodecError, and
 * nothing else; what parses re-serializes to the same bytes; and DtlsServer over UDP neither
 * crashes nor loses its established sessions, and still completes a handshake afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isCodecError } from '../../shared/errors.ts';
import { parseAlert } from '../../server/dtls/alert.ts';
import { HelloCookies, type ClientAddress } from '../../server/dtls/cookie.ts';
import { DtlsServer } from '../../server/dtls/dtls-server.ts';
import { parseClientHello, parseHandshakeFragments, serializeClientHello, serializeHandshakeFragment } from '../../server/dtls/handshake.ts';
import { concatBytes } from '../../server/dtls/bytes.ts';
import { ContentType, parseDatagram, serializeDatagram, serializeRecord, type DtlsRecord } from '../../server/dtls/record.ts';
import { startServerHandshake, stepServerHandshake, type ServerHandshakeState, type ServerHandshakeStep } from '../../server/dtls/server-handshake.ts';
import { helloVerifyCookie } from './fixtures/datagram-checks.ts';
import { HANDSHAKE_BODY_PARSERS } from './fixtures/handshake-parsers.ts';
import { PskClient } from './fixtures/psk-client.ts';
import { connect, helloExchange, roundTrip, type ConnectedClient } from './fixtures/udp-handshake.ts';
import { UdpEndpoint } from './fixtures/udp-endpoint.ts';

const IDENTITY = 'urn:imei:490154203237518';
const PSK = new Uint8Array(randomBytes(16));
const CLIENT: ClientAddress = { address: '192.0.2.7', port: 56830 };
const NUM_RUNS = 500;
const SEED = 0x5eed;

/** `run`'s value, or undefined when it threw a CodecError; any other throw fails the test. */
function codec<T>(name: string, run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    if (isCodecError(error)) return undefined;
    assert.fail(`${name} threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

const sentRecords = (step: ServerHandshakeStep): DtlsRecord[] => step.actions.flatMap((action) => (action.type === 'send' ? action.records : []));

/** One pure handshake, keeping every record both sides made and the server state after each step. */
function captureHandshake(): { records: Record<string, DtlsRecord>; datagrams: Uint8Array[]; states: ServerHandshakeState[]; cookies: HelloCookies } {
  const cookies = new HelloCookies();
  const client = new PskClient({ suites: [0xc0a8, 0x00ae, 0x00ff], sessionId: new Uint8Array([1, 2, 3]), identity: IDENTITY, psk: PSK });
  const hello = client.helloRecord();
  const verify = startServerHandshake(cookies, CLIENT, hello);
  assert.equal(verify.type, 'hello-verify-request');
  client.receive([verify.record]);
  const cookieHello = client.helloRecord();
  const started = startServerHandshake(cookies, CLIENT, cookieHello);
  assert.equal(started.type, 'started');
  const serverFlight = sentRecords(started);
  assert.ok(client.receive(serverFlight));
  const [keyExchange] = client.keyExchange();
  const changeCipherSpec = client.changeCipherSpec();
  const [finished] = client.finished();
  assert.ok(keyExchange !== undefined && finished !== undefined);

  const states: ServerHandshakeState[] = [started.state];
  const push = (step: ServerHandshakeStep): ServerHandshakeState => {
    states.push(step.state);
    return step.state;
  };
  let state = push(stepServerHandshake(started.state, { type: 'record', record: keyExchange }));
  assert.equal(state.phase, 'awaiting-psk');
  state = push(stepServerHandshake(state, { type: 'psk', key: PSK }));
  assert.equal(state.phase, 'awaiting-finished');
  state = push(stepServerHandshake(state, { type: 'record', record: changeCipherSpec }));
  const done = stepServerHandshake(state, { type: 'record', record: finished });
  state = push(done);
  assert.equal(state.phase, 'established');
  const serverFinished = sentRecords(done);

  const records: Record<string, DtlsRecord> = {
    hello,
    verify: verify.record,
    cookieHello,
    keyExchange,
    changeCipherSpec,
    finished,
    applicationData: client.protect(ContentType.applicationData, new TextEncoder().encode('POST /bs?ep=dev')),
    alert: client.plain(ContentType.alert, new Uint8Array([2, 40])),
    encryptedAlert: client.protect(ContentType.alert, new Uint8Array([1, 0])),
  };
  serverFlight.forEach((record, i) => (records[`serverFlight${i}`] = record));
  serverFinished.forEach((record, i) => (records[`serverFinished${i}`] = record));
  const datagrams = [...Object.values(records).map(serializeRecord), serializeDatagram([keyExchange, changeCipherSpec, finished]), serializeDatagram(serverFinished)];
  return { records, datagrams, states, cookies };
}

const captured = captureHandshake();

/** Where record and handshake length fields sit in a datagram that starts with a handshake record. */
const LENGTH_FIELD_OFFSETS = [11, 12, 14, 15, 16, 22, 23, 24, 13 + 12 + 34, 13 + 12 + 35] as const;

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'overwrite'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'length'; readonly field: number; readonly value: number };

const position = fc.nat({ max: 10_000 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('overwrite' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 3 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    field: fc.integer({ min: 0, max: LENGTH_FIELD_OFFSETS.length - 1 }),
    value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff)),
  }),
);

function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : change.kind === 'length' ? 0 : change.at % (bytes.length + 1);
  switch (change.kind) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const out = bytes.slice();
      out[at % bytes.length]! ^= 1 << change.bit;
      return out;
    }
    case 'insert':
      return concatBytes(bytes.subarray(0, at), change.bytes, bytes.subarray(at));
    case 'delete':
      return concatBytes(bytes.subarray(0, at), bytes.subarray(at + change.count));
    case 'truncate':
      return bytes.slice(0, at);
    case 'overwrite': {
      const out = bytes.slice();
      out.set(change.bytes.subarray(0, Math.max(0, out.length - at)), at);
      return out;
    }
    case 'length': {
      const offset = LENGTH_FIELD_OFFSETS[change.field]!;
      if (offset >= bytes.length) return bytes;
      const out = bytes.slice();
      out[offset] = change.value;
      return out;
    }
  }
}

const mutated = (seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([seed, list]) => list.reduce(mutate, seed));

const changes = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** Record framing intact around a damaged fragment, so the damage reaches the handshake parsers. */
const reframedRecord: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(...Object.values(captured.records)), changes)
  .map(([record, list]) => serializeRecord({ ...record, fragment: list.reduce(mutate, record.fragment) }));

const plaintextMessages = Object.values(captured.records)
  .filter((record) => record.type === ContentType.handshake && record.epoch === 0)
  .flatMap((record) => parseHandshakeFragments(record.fragment).map((message) => ({ record, message })));

/** Record and handshake framing intact around a damaged message body, so the damage reaches the body parsers. */
const reframedMessage: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(...plaintextMessages), changes)
  .map(([{ record, message }, list]) => {
    const body = list.reduce(mutate, message.body);
    return serializeRecord({ ...record, fragment: serializeHandshakeFragment({ ...message, length: body.length, body }) });
  });

const peerBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: mutated(captured.datagrams) },
  { weight: 2, arbitrary: reframedRecord },
  { weight: 3, arbitrary: reframedMessage },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
);

/** How deep the generated inputs reach, so a property cannot pass by rejecting everything early. */
const reached = { datagrams: 0, handshakeRecords: 0, clientHellos: 0, machineActions: 0, failedSteps: 0 };

/** Every parser on `bytes` and on every part of it that parses, with the round trips that must hold. */
function exploreBytes(bytes: Uint8Array): void {
  codec('parseHandshakeFragments', () => parseHandshakeFragments(bytes));
  codec('parseAlert', () => parseAlert(bytes));
  for (const [message, parse] of HANDSHAKE_BODY_PARSERS) codec(`the ${message} parser`, () => parse(bytes));
  const records = codec('parseDatagram', () => parseDatagram(bytes));
  if (records === undefined) return;
  reached.datagrams++;
  assert.deepEqual(serializeDatagram(records), bytes, 'a datagram that parses is exactly its records');
  for (const record of records) {
    codec('parseAlert', () => parseAlert(record.fragment));
    const fragments = codec('parseHandshakeFragments', () => parseHandshakeFragments(record.fragment));
    if (fragments === undefined) continue;
    reached.handshakeRecords++;
    assert.deepEqual(concatBytes(...fragments.map(serializeHandshakeFragment)), record.fragment, 'handshake fragments re-serialize to the record');
    for (const fragment of fragments) {
      const hello = codec('parseClientHello', () => parseClientHello(fragment.body));
      if (hello !== undefined) {
        reached.clientHellos++;
        assert.deepEqual(serializeClientHello(hello), fragment.body, 'a ClientHello re-serializes to its bytes');
      }
      for (const [message, parse] of HANDSHAKE_BODY_PARSERS) codec(`the ${message} parser`, () => parse(fragment.body));
    }
  }
}

describe('DTLS parsers on mutated and random bytes', () => {
  it('return a value or throw CodecError, and what parses re-serializes to the same bytes', () => {
    for (const datagram of captured.datagrams) exploreBytes(datagram);
    fc.assert(fc.property(peerBytes, exploreBytes), { numRuns: NUM_RUNS, seed: SEED });
    assert.ok(reached.datagrams > NUM_RUNS / 4 && reached.handshakeRecords > NUM_RUNS / 10 && reached.clientHellos > 5, JSON.stringify(reached));
  });
});

/** Records with intact framing and a damaged fragment, type or epoch: they reach past the record parser. */
const mutatedRecord: fc.Arbitrary<DtlsRecord> = fc
  .tuple(
    fc.constantFrom(...Object.values(captured.records)),
    fc.array(mutation, { maxLength: 3 }),
    fc.option(fc.constantFrom<ContentType>(ContentType.changeCipherSpec, ContentType.alert, ContentType.handshake, ContentType.applicationData), { nil: undefined }),
    fc.option(fc.constantFrom(0, 1, 2, 0xffff), { nil: undefined }),
    fc.option(fc.constantFrom(0, 1, 2 ** 48 - 1), { nil: undefined }),
  )
  .map(([record, changes, type, epoch, sequenceNumber]) => ({
    ...record,
    type: type ?? record.type,
    epoch: epoch ?? record.epoch,
    sequenceNumber: sequenceNumber ?? record.sequenceNumber,
    fragment: changes.reduce(mutate, record.fragment),
  }));

/** The records in mutated datagrams that still frame, and mutated records. */
const peerRecords: fc.Arbitrary<readonly DtlsRecord[]> = fc.oneof(
  peerBytes.map((bytes) => {
    try {
      return parseDatagram(bytes);
    } catch {
      return [];
    }
  }),
  fc.array(mutatedRecord, { minLength: 1, maxLength: 3 }),
);

/** What the machine asks to send must go on the wire: DtlsServer would swallow the error silently. */
function assertSendable(records: readonly DtlsRecord[]): void {
  for (const record of records) {
    try {
      serializeRecord(record);
    } catch (error) {
      assert.fail(`unsendable ${record.type} record, sequence number ${record.sequenceNumber}: ${String(error)}`);
    }
  }
}

describe('the pure handshake machine on mutated records', () => {
  it('startServerHandshake and stepServerHandshake in every phase return a step or throw CodecError', () => {
    assert.deepEqual(
      captured.states.map((state) => state.phase),
      ['awaiting-client-key-exchange', 'awaiting-psk', 'awaiting-finished', 'awaiting-finished', 'established'],
    );
    fc.assert(
      fc.property(peerRecords, (records) => {
        for (const record of records) {
          const outcome = codec('startServerHandshake', () => startServerHandshake(captured.cookies, CLIENT, record));
          if (outcome?.type === 'started') assertSendable(sentRecords(outcome));
          else if (outcome !== undefined && outcome.type !== 'ignore') assertSendable([outcome.record]);
          for (const state of captured.states) {
            const step = codec(`stepServerHandshake in ${state.phase}`, () => stepServerHandshake(state, { type: 'record', record }));
            if (step === undefined) {
              reached.failedSteps++;
              continue;
            }
            if (step.actions.length > 0) reached.machineActions++;
            assertSendable(sentRecords(step));
            // Whatever state the record led to must take the remaining events without breaking.
            const next = codec('stepServerHandshake after', () => stepServerHandshake(step.state, { type: 'psk', key: PSK }));
            if (next !== undefined) assertSendable(sentRecords(next));
          }
        }
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
    assert.ok(reached.machineActions > NUM_RUNS / 20, JSON.stringify(reached));
  });

  it(
    'gives a verified hello at the top of the record sequence space a flight it can send, or no handshake',
    () => {
      const client = new PskClient();
      const verify = startServerHandshake(captured.cookies, CLIENT, client.helloRecord());
      assert.equal(verify.type, 'hello-verify-request');
      const cookie = helloVerifyCookie(serializeRecord(verify.record))!;
      const started = startServerHandshake(captured.cookies, CLIENT, { ...client.helloRecord(cookie, 1), sequenceNumber: 2 ** 48 - 1 });
      if (started.type !== 'started') return;
      assertSendable(sentRecords(started));
      // A message out of place makes the server answer with an alert, also in epoch 0.
      const unexpected = client.plain(ContentType.handshake, serializeHandshakeFragment({ msgType: 20, length: 12, messageSeq: 2, fragmentOffset: 0, body: new Uint8Array(12) }));
      assertSendable(sentRecords(stepServerHandshake(started.state, { type: 'record', record: unexpected })));
    },
  );
});

describe('DtlsServer over UDP on mutated datagrams', () => {
  let server: DtlsServer;
  const delivered: string[] = [];
  const sockets: UdpEndpoint[] = [];

  before(async () => {
    server = await DtlsServer.open({
      port: 0,
      host: '127.0.0.1',
      lookupPsk: (identity) => Promise.resolve(identity === IDENTITY ? PSK : undefined),
      onApplicationData: (_peer, data, reply) => {
        delivered.push(new TextDecoder().decode(data));
        reply(data);
      },
    });
  });

  after(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await server.close();
  });

  it('never crashes, keeps established sessions, and completes a handshake afterwards', async () => {
    const target = server.address();
    const established: ConnectedClient = await connect(target, { identity: IDENTITY, psk: PSK });
    sockets.push(established.endpoint);
    const stranger = await UdpEndpoint.open(target);
    const halfway = await UdpEndpoint.open(target);
    sockets.push(stranger, halfway);
    await helloExchange(halfway, new PskClient());

    // Seeds that reach the established peer's session: its epoch 1 records and plaintext handshake debris.
    const sessionSeeds = [
      serializeRecord(established.client.protect(ContentType.applicationData, new TextEncoder().encode('seed'))),
      serializeDatagram(established.client.finishedAgain()),
      serializeRecord(captured.records.keyExchange!),
      serializeRecord(captured.records.changeCipherSpec!),
      serializeRecord(captured.records.alert!),
    ];
    const fromStrangers = fc.sample(fc.tuple(fc.boolean(), peerBytes), { numRuns: NUM_RUNS, seed: SEED });
    // A mutation can leave a seed as it was (a length field past its end, say): that is the genuine record, no forgery.
    const isSeed = (datagram: Uint8Array): boolean => sessionSeeds.some((seed) => Buffer.from(seed).equals(datagram));
    const atSession = fc.sample(mutated(sessionSeeds), { numRuns: NUM_RUNS / 2, seed: SEED }).filter((datagram) => !isSeed(datagram));
    for (const [useHalfway, datagram] of fromStrangers) await (useHalfway ? halfway : stranger).send(datagram);
    for (const datagram of atSession) await established.endpoint.send(datagram);
    await established.endpoint.drain(100);

    assert.deepEqual(delivered, [], 'nothing forged was delivered');
    assert.equal(await roundTrip(established, 'session survived'), 'session survived');
    const fresh = await connect(target, { identity: IDENTITY, psk: PSK });
    sockets.push(fresh.endpoint);
    assert.equal(await roundTrip(fresh, 'after the fuzz'), 'after the fuzz');
    assert.equal(await roundTrip(established, 'still here'), 'still here');
    assert.ok(server.peerCount >= 2 && server.peerCount <= 4);
  });
});
