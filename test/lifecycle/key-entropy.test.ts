import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classifyBootstrapKey, keyOrigin } from '../../shared/lifecycle/key-entropy.ts';
import type { BootstrapKeyFacts, KeyClassification, KeyOwner } from '../../shared/lifecycle/key-entropy.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]));

/** Bytes from `openssl rand`: no structure, no identifier. */
const RANDOM_16 = hex('8f3a1c9e4b7d2f60a5e81c3b9d04f7e2');
const RANDOM_32 = hex('c41d7e09b2a85f3361e0d94a7cf2b815e6093ad78b4c21f05d9e7a3168bcf24e');
const PAD = hex('9e4b7d2fa5e8');

const IMEI = '356938035643809';
const device: KeyOwner = {
  endpoint: 'meter-7f3k2',
  identities: { imei: IMEI, imsi: '310150123456789', iccid: '89441000300123456789' },
  msisdn: '+447700900123',
  serial: 'SN-A0B1C2D3',
};

function classify(facts: Partial<BootstrapKeyFacts> & { key: Uint8Array }): KeyClassification {
  return classifyBootstrapKey({ device, ...facts });
}

function codes(result: KeyClassification): string[] {
  return result.reasons.map((reason) => reason.code);
}

/** The identifier and encoding of every derived-from-identifier reason, as `imei/bcd`. */
function derivations(result: KeyClassification): string[] {
  return result.reasons.flatMap((reason) => (reason.code === 'derived-from-identifier' ? [`${reason.identifier}/${reason.encoding}`] : []));
}

function assertNoKeyIn(result: KeyClassification, key: Uint8Array): void {
  const text = JSON.stringify(result);
  const keyHex = Buffer.from(key).toString('hex');
  assert.ok(!text.toLowerCase().includes(keyHex), 'key hex in reasons');
  assert.ok(!text.includes(Buffer.from(key).toString('base64')), 'key base64 in reasons');
  const printable = Buffer.from(key).toString('latin1');
  if (key.length >= 6) assert.ok(!text.includes(printable), 'key text in reasons');
}

describe('classifyBootstrapKey: random keys', () => {
  it('a random 16-byte or 32-byte key is high, with no reasons', () => {
    for (const key of [RANDOM_16, RANDOM_32]) assert.deepEqual(classify({ key }), { entropy: 'high', reasons: [] });
  });

  it('a random 15-byte key is low for being too short, and for nothing else', () => {
    const result = classify({ key: RANDOM_16.subarray(0, 15) });
    assert.equal(result.entropy, 'low');
    assert.deepEqual(codes(result), ['too-short']);
    assert.deepEqual(result.reasons[0], { code: 'too-short', bytes: 15, text: 'the key has 120 bits, fewer than the 128 a high-entropy key needs' });
  });
});

describe('classifyBootstrapKey: declared origin', () => {
  it('a key declared as from a PIN is low even when long and random', () => {
    const result = classify({ key: RANDOM_32, declaredOrigin: 'pin' });
    assert.equal(result.entropy, 'low');
    assert.deepEqual(codes(result), ['declared-low']);
    const [reason] = result.reasons;
    assert.ok(reason?.code === 'declared-low' && reason.origin === 'pin');
  });

  it('every origin but random is low; random leaves the checks to decide', () => {
    for (const origin of keyOrigin.options) {
      assert.equal(classify({ key: RANDOM_32, declaredOrigin: origin }).entropy, origin === 'random' ? 'high' : 'low', origin);
    }
    assert.deepEqual(codes(classify({ key: new Uint8Array(16), declaredOrigin: 'random' })), ['repeated-pattern']);
  });

  it('the import schema takes the six origins and nothing else', () => {
    assert.deepEqual(keyOrigin.options, ['random', 'pin', 'password', 'serial', 'imei', 'shared']);
    assert.equal(keyOrigin.safeParse('guess').success, false);
  });
});

describe('classifyBootstrapKey: derived from an identifier', () => {
  it('finds the IMEI inside the key as ASCII', () => {
    const result = classify({ key: concat(PAD, ascii(IMEI), PAD) });
    assert.equal(result.entropy, 'low');
    assert.deepEqual(derivations(result), ['imei/ascii']);
  });

  it('finds the IMEI as packed BCD, high nibble first', () => {
    const key = concat(PAD, hex('356938035643809f'), PAD);
    assert.deepEqual(derivations(classify({ key })), ['imei/bcd']);
  });

  it('finds the IMEI as packed BCD with swapped nibbles, as SIM files store digits', () => {
    const key = concat(PAD, hex('53968330653408f9'), PAD);
    assert.deepEqual(derivations(classify({ key })), ['imei/bcd-swapped']);
  });

  it('finds the IMEI as the hex of its ASCII, in either case', () => {
    const hexOfAscii = Buffer.from(IMEI, 'ascii').toString('hex');
    for (const text of [hexOfAscii, hexOfAscii.toUpperCase()]) {
      assert.ok(derivations(classify({ key: concat(PAD, ascii(text)) })).includes('imei/ascii-hex'), text);
    }
  });

  it('finds the ICCID as a SIM stores it (EF_ICCID, swapped nibbles) and the IMSI equal to the key', () => {
    const efIccid = hex('98440100031032547698');
    assert.deepEqual(derivations(classify({ key: concat(efIccid, PAD) })), ['iccid/bcd-swapped']);
    const imsiKey = ascii('310150123456789x');
    assert.deepEqual(derivations(classify({ key: imsiKey })), ['imsi/ascii']);
  });

  it('finds an identifier inside the endpoint name, the MSISDN without its +, the serial and the PSK identity', () => {
    const urnDevice: KeyOwner = { endpoint: `urn:imei:${IMEI}`, identities: {} };
    assert.deepEqual(derivations(classifyBootstrapKey({ key: concat(hex('356938035643809f'), PAD, PAD), device: urnDevice })), ['endpoint/bcd']);
    assert.deepEqual(derivations(classify({ key: concat(PAD, hex('447700900123'), PAD) })), ['msisdn/bcd']);
    assert.deepEqual(derivations(classify({ key: concat(PAD, hex('a0b1c2d3'), PAD, PAD) })), ['serial/bcd']);
    assert.deepEqual(derivations(classify({ key: concat(ascii('sn-a0b1c2d3'), PAD) })), ['serial/ascii']);
    assert.deepEqual(derivations(classify({ key: concat(ascii('gw-psk-0042'), PAD), identity: 'GW-PSK-0042' })), ['identity/ascii']);
  });

  it('reports each identifier once, however many encodings hold it', () => {
    const key = concat(ascii(IMEI), hex('356938035643809f'), hex('53968330653408f9'));
    assert.deepEqual(derivations(classify({ key })), ['imei/ascii']);
  });

  it('ignores identifiers and parts shorter than 6 characters', () => {
    const short: KeyOwner = { endpoint: 'ab-12', identities: {}, serial: '12345' };
    const key = concat(ascii('12345'), hex('12345f'), ascii('ab-12'), RANDOM_16);
    assert.deepEqual(classifyBootstrapKey({ key, device: short, identity: 'ab12' }), { entropy: 'high', reasons: [] });
  });

  it('does not take a key holding only part of an identifier (the IMEI less its last digit is not the IMEI)', () => {
    const key = concat(PAD, hex('35693803564380'), hex('7d2fa5e8'), PAD);
    assert.deepEqual(derivations(classify({ key })), []);
  });
});

describe('classifyBootstrapKey: repeated patterns', () => {
  const patternOf = (key: Uint8Array): string[] =>
    classify({ key }).reasons.flatMap((reason) => (reason.code === 'repeated-pattern' ? [reason.pattern] : []));

  it('catches a repeated block: all zeros, all ones, a repeated word, a digit cycle', () => {
    assert.deepEqual(patternOf(new Uint8Array(32)), ['repeated-block']);
    assert.deepEqual(patternOf(new Uint8Array(16).fill(0xff)), ['repeated-block']);
    assert.deepEqual(patternOf(ascii('passwordpassword')), ['repeated-block']);
    assert.deepEqual(patternOf(ascii('12345678901234567890')), ['repeated-block']);
    assert.deepEqual(patternOf(concat(RANDOM_16.subarray(0, 15), RANDOM_16.subarray(0, 15), RANDOM_16.subarray(0, 5))), ['repeated-block']);
  });

  it('catches a repeated step: counters up and down', () => {
    assert.deepEqual(patternOf(Uint8Array.from({ length: 32 }, (_, index) => index)), ['repeated-step']);
    assert.deepEqual(patternOf(Uint8Array.from({ length: 16 }, (_, index) => 0xff - 3 * index)), ['repeated-step']);
    assert.deepEqual(patternOf(Uint8Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? index * 5 : index * 5 + 1))), ['repeated-step']);
  });

  it('catches text from a small alphabet: a typed password, a long PIN, hex text', () => {
    assert.deepEqual(patternOf(ascii('Correct-Horse-Ba')), ['text']);
    assert.deepEqual(patternOf(ascii('90817263544536271809')), ['text']);
    assert.deepEqual(patternOf(ascii('8f3a1c9e4b7d2f60a5e8')), ['text']);
  });

  it('leaves keys whose structure still allows 128 bits', () => {
    assert.deepEqual(patternOf(concat(RANDOM_16, RANDOM_16)), [], 'a repeated 16-byte block');
    assert.deepEqual(patternOf(concat(RANDOM_16.subarray(0, 15), RANDOM_16.subarray(0, 1))), [], 'only the first byte comes back');
    assert.deepEqual(patternOf(ascii('9081726354453627180991827364554637281950')), [], '40 digits reach 132 bits');
  });
});

describe('classifyBootstrapKey: shared keys', () => {
  it('a key on more than one device is low; on one device it is not', () => {
    const shared = classify({ key: RANDOM_32, devicesSharingKey: 3 });
    assert.equal(shared.entropy, 'low');
    assert.deepEqual(shared.reasons, [{ code: 'shared-key', devices: 3, text: 'the same key is on 3 devices' }]);
    assert.equal(classify({ key: RANDOM_32, devicesSharingKey: 1 }).entropy, 'high');
  });
});

describe('classifyBootstrapKey: reasons hold no key bytes', () => {
  it('collects every reason and names none of the key', () => {
    const key = concat(ascii('passwordpassword'), ascii(IMEI));
    const result = classify({ key, declaredOrigin: 'password', devicesSharingKey: 2 });
    assert.deepEqual(codes(result), ['declared-low', 'derived-from-identifier', 'shared-key']);
    for (const sample of [key, new Uint8Array(16), ascii('passwordpassword'), RANDOM_16.subarray(0, 8)]) {
      assertNoKeyIn(classify({ key: sample, declaredOrigin: 'pin', devicesSharingKey: 4 }), sample);
    }
  });
});

describe('classifyBootstrapKey: no false positives on random keys', () => {
  const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^\\d{${min},${max}}$`));
  const owner: fc.Arbitrary<KeyOwner> = fc.record({
    endpoint: fc.oneof(digits(15, 15).map((imei) => `urn:imei:${imei}`), fc.stringMatching(/^[\x21-\x7e]{1,40}$/)),
    identities: fc.record({ imei: digits(15, 15), imsi: digits(15, 15), iccid: fc.stringMatching(/^89\d{17}F?$/) }),
    msisdn: digits(11, 13).map((number) => `+${number}`),
    serial: fc.stringMatching(/^[0-9A-F]{8,16}$/),
  });

  it('2000 random keys of 16..32 bytes, against random identifiers, all classify high', () => {
    fc.assert(
      fc.property(fc.noBias(fc.uint8Array({ minLength: 16, maxLength: 32 })), owner, fc.option(fc.string({ minLength: 1, maxLength: 64 })), (key, owner, identity) => {
        const result = classifyBootstrapKey({ key, device: owner, identity: identity ?? undefined, declaredOrigin: 'random', devicesSharingKey: 1 });
        assert.deepEqual(result, { entropy: 'high', reasons: [] });
      }),
      { numRuns: 2000 },
    );
  });
});
