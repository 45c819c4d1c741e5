import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BootstrapPsk } from '../../shared/bootstrap/bootstrap-psk.ts';
import { bootstrapPskOf } from '../../shared/bootstrap/bootstrap-psk.ts';
import { PskCache, storePskSource, type PskSource } from '../../server/gateway/psk-cache.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';
import { device } from '../e2e/fixtures.ts';

const KEY_HEX = '00112233445566778899aabbccddeeff';

/** A source that counts lookups and answers from a map the test changes. */
function countingSource(keys: Map<string, BootstrapPsk>): PskSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup(identity) {
      calls.push(identity);
      return Promise.resolve(keys.get(identity));
    },
  };
}

describe('bootstrapPskOf', () => {
  it('gives the key of a PSK Bootstrap-Server account whose identity matches', () => {
    const entry = { ...device('dev-1', 'p'), bootstrapCredentials: { securityMode: 'psk' as const, identity: 'id-1', secretKey: KEY_HEX } };
    const psk = bootstrapPskOf(entry, 'id-1');
    assert.equal(psk?.endpoint, 'dev-1');
    assert.deepEqual(psk?.key, Uint8Array.from(Buffer.from(KEY_HEX, 'hex')));
    assert.equal(bootstrapPskOf(entry, 'id-2'), undefined);
  });

  it('still authenticates a retiring credential until its purge', () => {
    const entry = {
      ...device('dev-r', 'p'),
      bootstrapCredentials: { securityMode: 'psk' as const, identity: 'new-id', secretKey: KEY_HEX },
      retiringBootstrapCredentials: [{ securityMode: 'psk' as const, identity: 'old-id', secretKey: '0f'.repeat(16), retiredAt: '2026-11-23T00:00:00.000Z', reason: 'replaced' as const }],
    };
    assert.deepEqual(bootstrapPskOf(entry, 'old-id')?.key, new Uint8Array(16).fill(0x0f));
    assert.deepEqual(bootstrapPskOf(entry, 'new-id')?.key, Uint8Array.from(Buffer.from(KEY_HEX, 'hex')));
    assert.equal(bootstrapPskOf({ ...entry, retiringBootstrapCredentials: [] }, 'old-id'), undefined, 'purged: gone');
  });

  it('authenticates nothing for an account that is not PSK or has no key', () => {
    const rpk = { ...device('dev-2', 'p'), bootstrapCredentials: { securityMode: 'rpk' as const, identity: 'id-2', secretKey: KEY_HEX } };
    const keyless = { ...device('dev-3', 'p'), bootstrapCredentials: { securityMode: 'psk' as const, identity: 'id-3' } };
    assert.equal(bootstrapPskOf(rpk, 'id-2'), undefined);
    assert.equal(bootstrapPskOf(keyless, 'id-3'), undefined);
    assert.equal(bootstrapPskOf(device('dev-4', 'p'), 'id-4'), undefined);
  });
});

describe('PskCache', () => {
  const psk = (endpoint: string, byte: number): BootstrapPsk => ({ endpoint, key: new Uint8Array(16).fill(byte) });

  it('asks the source once per identity while the entry is fresh, and again after it expires', async () => {
    let now = 0;
    const source = countingSource(new Map([['a', psk('dev-a', 1)]]));
    const cache = new PskCache(source, { ttlMs: 1000, now: () => now });
    assert.equal((await cache.lookup('a'))?.endpoint, 'dev-a');
    assert.equal((await cache.lookup('a'))?.endpoint, 'dev-a');
    assert.deepEqual(source.calls, ['a']);
    now = 1001;
    await cache.lookup('a');
    assert.deepEqual(source.calls, ['a', 'a']);
  });

  it('remembers an unknown identity only for the short negative TTL', async () => {
    let now = 0;
    const keys = new Map<string, BootstrapPsk>();
    const source = countingSource(keys);
    const cache = new PskCache(source, { ttlMs: 60_000, negativeTtlMs: 100, now: () => now });
    assert.equal(await cache.lookup('late'), undefined);
    keys.set('late', psk('dev-late', 2));
    assert.equal(await cache.lookup('late'), undefined, 'still within the negative TTL');
    now = 101;
    assert.equal((await cache.lookup('late'))?.endpoint, 'dev-late');
    assert.deepEqual(source.calls, ['late', 'late']);
  });

  it('forgets a key at once when invalidated, so a purged key stops authenticating', async () => {
    const keys = new Map([['p', psk('dev-p', 3)]]);
    const cache = new PskCache(countingSource(keys));
    assert.ok(await cache.lookup('p'));
    keys.delete('p');
    assert.ok(await cache.lookup('p'), 'cached until invalidated');
    cache.invalidate('p');
    assert.equal(await cache.lookup('p'), undefined);
  });

  it('does not keep an answer that raced with an invalidation', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls: string[] = [];
    const cache = new PskCache({
      async lookup(identity) {
        calls.push(identity);
        await gate;
        return psk('dev-r', 4);
      },
    });
    const pending = cache.lookup('r');
    cache.invalidate('r');
    release();
    assert.ok(await pending);
    await cache.lookup('r');
    assert.equal(calls.length, 2, 'the raced answer was not cached');
  });

  it('shares one source lookup between concurrent handshakes of one identity', async () => {
    const source = countingSource(new Map([['c', psk('dev-c', 5)]]));
    const cache = new PskCache(source);
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.lookup('c')));
    assert.ok(answers.every((answer) => answer?.endpoint === 'dev-c'));
    assert.deepEqual(source.calls, ['c']);
  });

  it('stays within maxEntries, dropping the least recently used', async () => {
    const keys = new Map(Array.from({ length: 10 }, (_, index) => [`id-${index}`, psk(`dev-${index}`, index)] as const));
    const source = countingSource(keys);
    const cache = new PskCache(source, { maxEntries: 3 });
    for (const identity of ['id-0', 'id-1', 'id-2']) await cache.lookup(identity);
    await cache.lookup('id-0');
    await cache.lookup('id-3');
    assert.equal(cache.size, 3);
    source.calls.length = 0;
    await cache.lookup('id-0');
    await cache.lookup('id-1');
    assert.deepEqual(source.calls, ['id-1'], 'id-1 was the least recently used and was dropped');
  });
});

describe('storePskSource', () => {
  it('finds the key through the store by PSK identity', async () => {
    const store = new MemoryStore();
    await store.putDevice({ ...device('dev-s', 'p'), bootstrapCredentials: { securityMode: 'psk', identity: 'id-s', secretKey: KEY_HEX } });
    const source = storePskSource(store);
    assert.equal((await source.lookup('id-s'))?.endpoint, 'dev-s');
    assert.equal(await source.lookup('nobody'), undefined);
  });
});
