import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  freshBootstrapPsk,
  freshServerPsk,
  MAX_IDENTITY_ATTEMPTS,
  PSK_IDENTITY_MAX_CHARS,
} from '../../shared/lifecycle/fresh-credentials.ts';
import type { FreshKeyBytes } from '../../shared/lifecycle/fresh-credentials.ts';
import { classifyBootstrapKey } from '../../shared/lifecycle/key-entropy.ts';
import { serverCredentialsSchema } from '../../shared/bootstrap/credentials.ts';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A random source that hands out the given byte strings first, then the CSPRNG's. */
function scripted(...first: Uint8Array[]): (size: number) => Uint8Array {
  const queue = [...first];
  return (size) => queue.shift() ?? new Uint8Array(randomBytes(size));
}

describe('freshBootstrapPsk', () => {
  it('gives a 16-byte key by default, 32 on request, and an identity naming the endpoint', () => {
    const psk = freshBootstrapPsk({ endpoint: 'meter-42' });
    assert.equal(psk.key.length, 16);
    assert.match(psk.identity, /^meter-42#bs-[a-z2-7]{13}$/);
    assert.equal(freshBootstrapPsk({ endpoint: 'meter-42', keyBytes: 32 }).key.length, 32);
    assert.ok(serverCredentialsSchema.safeParse({ identity: psk.identity, secretKey: hexOf(psk.key) }).success);
  });

  it('never repeats an identity or a key over many draws', () => {
    const draws = Array.from({ length: 5000 }, () => freshBootstrapPsk({ endpoint: 'ep' }));
    assert.equal(new Set(draws.map((draw) => draw.identity)).size, draws.length);
    assert.equal(new Set(draws.map((draw) => hexOf(draw.key))).size, draws.length);
  });

  it('keeps the identity within 128 characters by shortening a long endpoint, never the random part', () => {
    const endpoint = `urn:dev:ops:${'x'.repeat(243)}`;
    const { identity } = freshBootstrapPsk({ endpoint });
    assert.equal(identity.length, PSK_IDENTITY_MAX_CHARS);
    assert.ok(endpoint.startsWith(identity.slice(0, identity.indexOf('#'))));
    assert.match(identity, /#bs-[a-z2-7]{13}$/);
  });

  it('draws again while the identity is taken', () => {
    const asked: string[] = [];
    const psk = freshBootstrapPsk({ endpoint: 'ep', taken: (identity) => asked.push(identity) <= 3 });
    assert.equal(asked.length, 4);
    assert.equal(new Set(asked).size, 4);
    assert.equal(psk.identity, asked[3]);
  });

  it('gives up after a bounded number of taken identities, with no key or identity in the error', () => {
    const asked: string[] = [];
    const key = ascii('k'.repeat(16));
    assert.throws(
      () => freshBootstrapPsk({ endpoint: 'ep-busy', taken: (identity) => asked.push(identity) > 0, random: (size) => (size === 16 ? key : new Uint8Array(randomBytes(size))) }),
      (error: unknown) =>
        error instanceof Error &&
        error.message.includes('ep-busy') &&
        !asked.some((identity) => error.message.includes(identity)) &&
        !error.message.includes(hexOf(key)) &&
        !error.message.includes('kkkk'),
    );
    assert.equal(asked.length, MAX_IDENTITY_ATTEMPTS);
  });

  it('draws the key again when a draw would classify low, and refuses a broken source without naming its bytes', () => {
    const identityBytes = new Uint8Array(randomBytes(8));
    const low = ascii('passwordpassword');
    const good = new Uint8Array(randomBytes(16));
    assert.deepEqual(freshBootstrapPsk({ endpoint: 'ep', random: scripted(identityBytes, low, good) }).key, good);

    const broken = (size: number) => (size === 16 ? ascii('passwordpassword') : new Uint8Array(size));
    assert.throws(
      () => freshBootstrapPsk({ endpoint: 'ep', random: broken }),
      (error: unknown) => error instanceof Error && !error.message.includes('password') && !error.message.includes(hexOf(low)),
    );
    assert.throws(() => freshBootstrapPsk({ endpoint: 'ep', random: () => new Uint8Array(3) }), RangeError);
  });

  it('checks the new key against the identifiers it is given', () => {
    const imei = '356938035643809';
    const derived = Uint8Array.from(Buffer.from(`${imei}f0123456789abcdef`.slice(0, 32), 'hex'));
    const good = new Uint8Array(randomBytes(16));
    const device = { endpoint: 'ep', identities: { imei } };
    const psk = freshBootstrapPsk({ endpoint: 'ep', device, random: scripted(new Uint8Array(randomBytes(8)), derived, good) });
    assert.deepEqual(psk.key, good);
  });

  it('refuses an empty endpoint and a key size other than 16 or 32', () => {
    assert.throws(() => freshBootstrapPsk({ endpoint: '' }), RangeError);
    assert.throws(() => freshBootstrapPsk({ endpoint: 'ep', keyBytes: 24 as FreshKeyBytes }), RangeError);
  });

  it('every fresh key classifies high against the device it is for', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,255}$/), fc.stringMatching(/^\d{15}$/), fc.constantFrom<FreshKeyBytes>(16, 32), (endpoint, imei, keyBytes) => {
        const device = { endpoint, identities: { imei } };
        const psk = freshBootstrapPsk({ endpoint, device, keyBytes });
        assert.equal(psk.identity.length <= PSK_IDENTITY_MAX_CHARS, true);
        assert.equal(classifyBootstrapKey({ key: psk.key, identity: psk.identity, device }).entropy, 'high');
      }),
      { numRuns: 300 },
    );
  });
});

describe('freshServerPsk', () => {
  it('names the Short Server ID in the identity', () => {
    const psk = freshServerPsk({ endpoint: 'meter-42', shortServerId: 101 });
    assert.match(psk.identity, /^meter-42#s101-[a-z2-7]{13}$/);
    assert.equal(psk.key.length, 16);
    assert.equal(freshServerPsk({ endpoint: 'meter-42', shortServerId: 65534, keyBytes: 32 }).key.length, 32);
  });

  it('retries a taken identity like the bootstrap account does', () => {
    let calls = 0;
    freshServerPsk({ endpoint: 'ep', shortServerId: 1, taken: () => ++calls < 2 });
    assert.equal(calls, 2);
  });

  it('refuses a Short Server ID outside 1..65534', () => {
    for (const shortServerId of [0, 65535, 1.5, -1]) {
      assert.throws(() => freshServerPsk({ endpoint: 'ep', shortServerId }), RangeError, String(shortServerId));
    }
  });
});
