import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generatePepper, keyFingerprint, MIN_PEPPER_BYTES, PEPPER_BYTES } from '../../shared/lifecycle/key-fingerprint.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

describe('keyFingerprint', () => {
  it('is HMAC-SHA256 keyed by the pepper (RFC 4231 test case 1)', () => {
    const pepper = new Uint8Array(20).fill(0x0b);
    const data = new TextEncoder().encode('Hi There');
    assert.equal(keyFingerprint(data, pepper), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  });

  it('is stable for one key and pepper, so equal keys on two devices meet in the index', () => {
    const pepper = generatePepper();
    const key = hex('00112233445566778899aabbccddeeff');
    assert.equal(keyFingerprint(key, pepper), keyFingerprint(Uint8Array.from(key), Uint8Array.from(pepper)));
    assert.match(keyFingerprint(key, pepper), /^[0-9a-f]{64}$/);
  });

  it('differs per pepper and per key, and never shows the key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.uint8Array({ minLength: 1, maxLength: 32 }), (key, other) => {
        const first = generatePepper();
        const second = generatePepper();
        const fingerprint = keyFingerprint(key, first);
        assert.notEqual(fingerprint, keyFingerprint(key, second));
        if (Buffer.compare(key, other) !== 0) assert.notEqual(fingerprint, keyFingerprint(other, first));
        if (key.length >= 4) assert.ok(!fingerprint.includes(Buffer.from(key).toString('hex')));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a pepper shorter than 16 bytes, without naming the key', () => {
    const key = hex('5ec2e7a1b2c3d4e5f60718293a4b5c6d');
    assert.throws(
      () => keyFingerprint(key, new Uint8Array(MIN_PEPPER_BYTES - 1)),
      (error: unknown) => error instanceof RangeError && !error.message.includes('5ec2e7a1') && /15 bytes/.test(error.message),
    );
    assert.doesNotThrow(() => keyFingerprint(key, new Uint8Array(MIN_PEPPER_BYTES)));
  });
});

describe('generatePepper', () => {
  it('gives 32 fresh bytes each time', () => {
    const peppers = Array.from({ length: 50 }, () => generatePepper());
    for (const pepper of peppers) assert.equal(pepper.length, PEPPER_BYTES);
    assert.equal(new Set(peppers.map((pepper) => Buffer.from(pepper).toString('hex'))).size, peppers.length);
  });
});
