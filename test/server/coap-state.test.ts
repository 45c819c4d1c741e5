import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoapCode } from '../../shared/coap/code.ts';
import { Block1Receiver } from '../../server/coap/block1-receiver.ts';
import type { Block1Transfer } from '../../server/coap/block1-receiver.ts';
import { Block2Cache, responseBlock } from '../../server/coap/block2-server.ts';
import { PeerTable } from '../../server/coap/peer-table.ts';
import { RateLimiter } from '../../server/coap/rate-limiter.ts';
import { initialTimeoutMs, maxTransmitWaitMs } from '../../server/coap/retransmission.ts';

// The endpoint's bounded state on its own, with a hand-driven clock.

function table(limits: { maxPeers: number; maxDedupPerPeer: number; maxDedupTotal: number }): PeerTable {
  const block1 = new Block1Receiver({ maxBodySize: 1024, preferredSize: 64, lifetimeMs: 1000, maxTransfersPerPeer: 2, maxTotalBytes: 4096 });
  const block2 = new Block2Cache({ lifetimeMs: 1000, maxPerPeer: 2, maxTotalBytes: 4096 });
  return new PeerTable(limits, block1, block2, () => undefined);
}

describe('PeerTable', () => {
  it('bounds deduplication entries per peer and over all peers, oldest peer first', () => {
    const peers = table({ maxPeers: 10, maxDedupPerPeer: 3, maxDedupTotal: 5 });
    const a = peers.get('a');
    for (const id of [1, 2, 3, 4]) peers.remember(a, id, 100);
    assert.equal(a.dedup.size, 3);
    assert.equal(a.dedup.lookup(1, 0), undefined, 'the oldest id of the peer went first');
    const b = peers.get('b');
    for (const id of [1, 2, 3]) peers.remember(b, id, 100);
    assert.equal(peers.dedupEntries, 5);
    assert.equal(a.dedup.size, 2, 'the least recently seen peer lost an entry');
    assert.equal(b.dedup.size, 3);
  });

  it('expires entries and forgets idle peers on sweep', () => {
    const peers = table({ maxPeers: 10, maxDedupPerPeer: 8, maxDedupTotal: 100 });
    const a = peers.get('a');
    peers.remember(a, 7, 50);
    assert.ok(a.dedup.lookup(7, 49) !== undefined);
    assert.equal(a.dedup.lookup(7, 50), undefined);
    peers.sweep(50);
    assert.equal(peers.dedupEntries, 0);
    assert.equal(peers.size, 0);
  });

  it('evicts the least recently used peer past maxPeers', () => {
    let evicted = 0;
    const block1 = new Block1Receiver({ maxBodySize: 1024, preferredSize: 64, lifetimeMs: 1000, maxTransfersPerPeer: 2, maxTotalBytes: 4096 });
    const block2 = new Block2Cache({ lifetimeMs: 1000, maxPerPeer: 2, maxTotalBytes: 4096 });
    const peers = new PeerTable({ maxPeers: 2, maxDedupPerPeer: 8, maxDedupTotal: 100 }, block1, block2, () => (evicted += 1));
    peers.remember(peers.get('a'), 1, 100);
    block2.store(peers.get('b').block2, 'GET /x', { code: CoapCode.CONTENT, payload: new Uint8Array(100) }, 0);
    peers.get('a'); // a is now the most recent
    peers.get('c');
    assert.equal(evicted, 1);
    assert.equal(peers.peek('b'), undefined);
    assert.equal(block2.totalBytes, 0, 'the evicted peer released its cached representation');
    assert.equal(peers.dedupEntries, 1);
  });
});

describe('Block1Receiver', () => {
  const receiver = (): Block1Receiver => new Block1Receiver({ maxBodySize: 100, preferredSize: 32, lifetimeMs: 1000, maxTransfersPerPeer: 1, maxTotalBytes: 1000 });

  it('rejects a block that does not continue the transfer with 4.08', () => {
    const transfers = new Map<string, Block1Transfer>();
    const outcome = receiver().receive(transfers, 'k', { num: 2, more: true, size: 32 }, new Uint8Array(32), undefined, 0);
    assert.equal(outcome.kind, 'reject');
    assert.equal(outcome.kind === 'reject' && outcome.code, CoapCode.REQUEST_ENTITY_INCOMPLETE);
  });

  it('answers 4.13 with Size1 when Size1 announces too much', () => {
    const transfers = new Map<string, Block1Transfer>();
    const outcome = receiver().receive(transfers, 'k', { num: 0, more: true, size: 32 }, new Uint8Array(32), 500, 0);
    assert.deepEqual(outcome.kind === 'reject' && [outcome.code, outcome.size1], [CoapCode.REQUEST_ENTITY_TOO_LARGE, 100]);
    assert.equal(transfers.size, 0);
  });
});

describe('Block2 slicing', () => {
  it('cuts blocks and refuses one past the end', () => {
    const payload = Uint8Array.from({ length: 40 }, (_, index) => index);
    assert.deepEqual(responseBlock(payload, 2, 16), { payload: payload.subarray(32), block2: { num: 2, more: false, size: 16 }, size2: 40 });
    assert.equal(responseBlock(payload, 3, 16), undefined);
  });
});

describe('RateLimiter', () => {
  it('refills the bucket over time, per address', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 2 }, 10, () => now);
    assert.deepEqual([limiter.allow('a'), limiter.allow('a'), limiter.allow('a')], [true, true, false]);
    assert.equal(limiter.allow('b'), true);
    now = 500;
    assert.deepEqual([limiter.allow('a'), limiter.allow('a')], [true, false]);
  });
});

describe('retransmission timing', () => {
  it('draws the initial timeout from [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR)', () => {
    const parameters = { ackTimeoutMs: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 };
    assert.equal(initialTimeoutMs(parameters, () => 0), 2000);
    assert.equal(initialTimeoutMs(parameters, () => 0.5), 2500);
    assert.equal(maxTransmitWaitMs(parameters), 93_000); // RFC 7252 4.8.2
  });
});
