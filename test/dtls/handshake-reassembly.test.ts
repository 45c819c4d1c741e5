import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientHelloAssembly } from '../../server/dtls/client-hello-assembly.ts';
import { HandshakeType, parseHandshakeFragments, serializeHandshake, serializeHandshakeFragment, type HandshakeFragment } from '../../server/dtls/handshake.ts';
import { flightPayloads, handshakeFragments } from '../../server/dtls/handshake-flight.ts';
import { HandshakeReassembly, MAX_HANDSHAKE_MESSAGE_LENGTH, MAX_PARTIAL_MESSAGES, type ReassemblyStep } from '../../server/dtls/handshake-reassembly.ts';
import { ContentType, DTLS_1_2, type DtlsRecord } from '../../server/dtls/record.ts';

const body = new Uint8Array(100).map((_, i) => i + 1);

function piece(offset: number, length: number, overrides: Partial<HandshakeFragment> = {}): HandshakeFragment {
  return { msgType: HandshakeType.clientKeyExchange, length: body.length, messageSeq: 2, fragmentOffset: offset, body: body.subarray(offset, offset + length), ...overrides };
}

/** Feeds fragments in order; returns every step. */
function feed(fragments: readonly HandshakeFragment[], start = new HandshakeReassembly()): ReassemblyStep[] {
  const steps: ReassemblyStep[] = [];
  let reassembly = start;
  for (const fragment of fragments) {
    const step = reassembly.add(fragment);
    steps.push(step);
    reassembly = step.reassembly;
  }
  return steps;
}

function completed(steps: readonly ReassemblyStep[]): Uint8Array[] {
  return steps.flatMap((step) => (step.message === undefined ? [] : [step.message.body]));
}

describe('handshake message reassembly (RFC 6347 4.2.3)', () => {
  it('passes a whole message straight through without buffering', () => {
    const [step] = feed([piece(0, 100)]);
    assert.deepEqual(step?.message, { msgType: HandshakeType.clientKeyExchange, messageSeq: 2, body });
    assert.deepEqual(step.reassembly.pending, []);
  });

  it('completes in order, out of order and reversed, exactly once, at the last missing byte', () => {
    const parts = [piece(0, 30), piece(30, 30), piece(60, 40)];
    for (const order of [[0, 1, 2], [2, 0, 1], [2, 1, 0], [1, 2, 0]]) {
      const steps = feed(order.map((i) => parts[i]!));
      assert.deepEqual(steps.map((step) => step.message !== undefined), [false, false, true], `order ${order.join()}`);
      assert.deepEqual(completed(steps), [body]);
      assert.deepEqual(steps[2]!.reassembly.pending, []);
    }
  });

  it('handles overlapping and duplicate fragments', () => {
    const steps = feed([piece(0, 50), piece(0, 50), piece(40, 30), piece(10, 20), piece(65, 35)]);
    assert.deepEqual(steps.map((step) => step.message !== undefined), [false, false, false, false, true]);
    assert.deepEqual(completed(steps), [body]);
  });

  it('a gap of one byte keeps the message incomplete', () => {
    const steps = feed([piece(0, 49), piece(50, 50)]);
    assert.deepEqual(completed(steps), []);
    assert.deepEqual(steps[1]!.reassembly.pending, [2]);
    assert.deepEqual(completed(feed([piece(49, 1)], steps[1]!.reassembly)), [body]);
  });

  it('drops a fragment whose total length or type disagrees with the first, and keeps the rest', () => {
    const first = feed([piece(0, 50)]);
    const wrongLength = first[0]!.reassembly.add({ ...piece(50, 50), length: 101 });
    assert.equal(wrongLength.dropped, true);
    assert.equal(wrongLength.reassembly, first[0]!.reassembly);
    const wrongType = first[0]!.reassembly.add({ ...piece(50, 50), msgType: HandshakeType.finished });
    assert.equal(wrongType.dropped, true);
    assert.deepEqual(completed(feed([piece(50, 50)], first[0]!.reassembly)), [body]);
  });

  it('never buffers a message over the length bound, nor a fragment past its message', () => {
    const big = { msgType: 16, length: MAX_HANDSHAKE_MESSAGE_LENGTH + 1, messageSeq: 2, fragmentOffset: 0, body: new Uint8Array(10) };
    const step = new HandshakeReassembly().add(big);
    assert.equal(step.dropped, true);
    assert.deepEqual(step.reassembly.pending, []);
    assert.equal(new HandshakeReassembly().add({ ...piece(90, 10), length: 95 }).dropped, true);
    assert.equal(new HandshakeReassembly(64).add(piece(0, 10)).dropped, true);
  });

  it('holds at most MAX_PARTIAL_MESSAGES messages in progress', () => {
    const steps = feed(Array.from({ length: MAX_PARTIAL_MESSAGES + 2 }, (_, seq) => piece(0, 10, { messageSeq: seq })));
    assert.deepEqual(steps.map((s) => s.dropped), [...Array<boolean>(MAX_PARTIAL_MESSAGES).fill(false), true, true]);
    assert.equal(steps.at(-1)!.reassembly.pending.length, MAX_PARTIAL_MESSAGES);
    assert.deepEqual(steps.at(-1)!.reassembly.discardBefore(2).pending, [2, 3]);
  });

  it('is immutable: an earlier value is unaffected by later additions', () => {
    const [first] = feed([piece(0, 50)]);
    first!.reassembly.add(piece(50, 50));
    assert.deepEqual(first!.reassembly.pending, [2]);
  });

  it('a zero-length message (ServerHelloDone) is whole', () => {
    const step = new HandshakeReassembly().add({ msgType: HandshakeType.serverHelloDone, length: 0, messageSeq: 2, fragmentOffset: 0, body: new Uint8Array(0) });
    assert.deepEqual(step.message?.body, new Uint8Array(0));
  });
});

describe('outgoing fragmentation', () => {
  it('cuts a message into fragments of at most maxFragment body bytes, one per record, that reassemble', () => {
    const message = { msgType: HandshakeType.serverHello, messageSeq: 1, body };
    const payloads = flightPayloads([message, { msgType: HandshakeType.serverHelloDone, messageSeq: 2, body: new Uint8Array(0) }], 30);
    const fragments = payloads.map((payload) => {
      const parsed = parseHandshakeFragments(payload);
      assert.equal(parsed.length, 1);
      return parsed[0]!;
    });
    assert.deepEqual(fragments.map((f) => [f.messageSeq, f.fragmentOffset, f.body.length]), [[1, 0, 30], [1, 30, 30], [1, 60, 30], [1, 90, 10], [2, 0, 0]]);
    assert.deepEqual(completed(feed(fragments)), [body, new Uint8Array(0)]);
    assert.deepEqual(flightPayloads([message], 1024), [serializeHandshake(HandshakeType.serverHello, 1, body)]);
    assert.throws(() => handshakeFragments(message, 0), RangeError);
  });
});

describe('ClientHello assembly before the cookie check', () => {
  const hello = new Uint8Array(60).map((_, i) => 255 - i);
  const record = (fragments: readonly Uint8Array[], sequenceNumber: number): DtlsRecord => ({
    type: ContentType.handshake,
    version: DTLS_1_2,
    epoch: 0,
    sequenceNumber,
    fragment: new Uint8Array(Buffer.concat(fragments)),
  });
  const helloPart = (offset: number, length: number, messageSeq = 0): Uint8Array =>
    serializeHandshakeFragment({ msgType: HandshakeType.clientHello, length: hello.length, messageSeq, fragmentOffset: offset, body: hello.subarray(offset, offset + length) });

  it('returns an unfragmented hello as it is and keeps nothing', () => {
    const assembly = new ClientHelloAssembly();
    const whole = record([serializeHandshake(HandshakeType.clientHello, 0, hello)], 4);
    assert.equal(assembly.accept('a', whole), whole);
    assert.equal(assembly.size, 0);
  });

  it('reassembles across records and hands on a whole hello under the last record number', () => {
    const assembly = new ClientHelloAssembly();
    assert.equal(assembly.accept('a', record([helloPart(40, 20)], 7)), undefined);
    assert.equal(assembly.accept('b', record([helloPart(0, 40)], 1)), undefined);
    assert.equal(assembly.size, 2);
    const done = assembly.accept('a', record([helloPart(0, 40)], 8));
    assert.deepEqual(done?.fragment, serializeHandshake(HandshakeType.clientHello, 0, hello));
    assert.equal(done.sequenceNumber, 8);
    assert.equal(assembly.size, 1);
  });

  it('several fragments in one record complete too; a new message_seq starts over', () => {
    const assembly = new ClientHelloAssembly();
    assert.ok(assembly.accept('a', record([helloPart(30, 30, 1), helloPart(0, 30, 1)], 2)) !== undefined);
    assert.equal(assembly.accept('a', record([helloPart(0, 30, 0)], 3)), undefined);
    assert.equal(assembly.accept('a', record([helloPart(30, 30, 1)], 4)), undefined, 'seq 1 does not complete seq 0');
  });

  it('is bounded: the least recently active source is evicted', () => {
    const assembly = new ClientHelloAssembly(3);
    for (const source of ['a', 'b', 'c', 'd']) assembly.accept(source, record([helloPart(0, 30)], 1));
    assert.equal(assembly.size, 3);
    assert.equal(assembly.accept('a', record([helloPart(30, 30)], 2)), undefined, 'a was evicted');
    assert.ok(assembly.accept('d', record([helloPart(30, 30)], 2)) !== undefined);
  });

  it('ignores other message types and epochs', () => {
    const assembly = new ClientHelloAssembly();
    const other = serializeHandshakeFragment({ msgType: HandshakeType.clientKeyExchange, length: 10, messageSeq: 0, fragmentOffset: 0, body: new Uint8Array(5) });
    assert.equal(assembly.accept('a', record([other], 1)), undefined);
    assert.equal(assembly.accept('a', { ...record([helloPart(0, 30)], 1), epoch: 1 }), undefined);
    assert.equal(assembly.size, 0);
  });
});
