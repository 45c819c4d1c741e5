import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { decodeCommandApdu, decodeResponseApdu, encodeCommandApdu, encodeResponseApdu } from '../../shared/smartcard/apdu.ts';
import {
  decodeInitializeUpdateResponse,
  encodeInitializeUpdateResponse,
  initializeUpdateCommand,
} from '../../shared/smartcard/initialize-update.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';
import { padIso7816, unpadIso7816 } from '../../shared/smartcard/secure-messaging.ts';
import { checkSecurityLevel } from '../../shared/smartcard/security-level.ts';

const malformed = (error: unknown): boolean => isScp03Error(error) && error.code === 'MALFORMED_APDU';

describe('command APDU codec (ISO/IEC 7816-3 short cases)', () => {
  const cases = [
    ['case 1', '00a40000', { cla: 0x00, ins: 0xa4, p1: 0, p2: 0, data: '' }],
    ['case 2, Le 256 written as 00', '00b0000000', { cla: 0x00, ins: 0xb0, p1: 0, p2: 0, data: '', le: 256 }],
    ['case 3', '80e2910006bf3e035c015a', { cla: 0x80, ins: 0xe2, p1: 0x91, p2: 0, data: 'bf3e035c015a' }],
    ['case 4', '00a4040007a000000063504b10', { cla: 0x00, ins: 0xa4, p1: 4, p2: 0, data: 'a000000063504b', le: 0x10 }],
  ] as const;
  for (const [name, bytes, fields] of cases) {
    it(name, () => {
      const decoded = decodeCommandApdu(hex(bytes));
      assert.deepEqual({ ...decoded, data: toHex(decoded.data) }, fields);
      assert.equal(toHex(encodeCommandApdu(decoded)), bytes);
    });
  }

  it('rejects lengths that fit no case, Lc 00, too much data and bad bytes', () => {
    for (const bytes of ['00a400', '00d6000003aabb', '00d6000003aabbccdd00', '00d600000000']) {
      assert.throws(() => decodeCommandApdu(hex(bytes)), malformed, bytes);
    }
    assert.throws(() => encodeCommandApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(256) }), malformed);
    assert.throws(() => encodeCommandApdu({ cla: 0x100, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(0) }), malformed);
    assert.throws(() => encodeCommandApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, data: new Uint8Array(0), le: 257 }), malformed);
  });
});

describe('response APDU codec', () => {
  it('splits data and status word', () => {
    assert.deepEqual(decodeResponseApdu(hex('01029000')), { data: hex('0102'), sw: 0x9000 });
    assert.equal(toHex(encodeResponseApdu({ data: new Uint8Array(0), sw: 0x6982 })), '6982');
    assert.throws(() => decodeResponseApdu(hex('90')), malformed);
  });
});

describe('INITIALIZE UPDATE', () => {
  it('command: CLA 80, INS 50, P1 key version, P2 00, 8-byte host challenge, Le 00', () => {
    assert.equal(toHex(encodeCommandApdu(initializeUpdateCommand(0x30, hex('b13e5f938fc108c4')))), '8050300008b13e5f938fc108c400');
    assert.throws(() => initializeUpdateCommand(0x30, hex('b13e5f938fc108')), malformed);
  });

  it('response: key diversification data, key information, challenge, cryptogram, sequence counter', () => {
    // The AES-128 level 11 response of the pySim trace (see scp03-vectors.test.ts).
    const bytes = '000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002';
    const decoded = decodeInitializeUpdateResponse(hex(bytes));
    assert.equal(decoded.keyVersion, 0x30);
    assert.equal(decoded.scpIdentifier, 0x03);
    assert.equal(decoded.iParameter, 0x70);
    assert.equal(toHex(decoded.cardChallenge), '3eb51047495b249f');
    assert.equal(toHex(decoded.cardCryptogram), '66c484c1d2ef1948');
    assert.equal(decoded.sequenceCounter, 2);
    assert.equal(toHex(encodeInitializeUpdateResponse(decoded)), bytes);
  });

  it('the sequence counter is there exactly when i says pseudo-random challenges; S16 is refused', () => {
    const withoutCounter = '00000000000000000000300360' + '11'.repeat(16);
    assert.equal(decodeInitializeUpdateResponse(hex(withoutCounter)).sequenceCounter, undefined);
    assert.throws(() => decodeInitializeUpdateResponse(hex(withoutCounter + '000001')), malformed);
    assert.throws(() => decodeInitializeUpdateResponse(hex('00000000000000000000300370' + '11'.repeat(16))), malformed);
    assert.throws(
      () => decodeInitializeUpdateResponse(hex('00000000000000000000300371' + '11'.repeat(32) + '000001')),
      (error: unknown) => isScp03Error(error) && error.code === 'UNSUPPORTED',
    );
  });
});

describe('ISO/IEC 7816-4 padding', () => {
  it('always adds 80 and zeros to a whole block, and removes exactly that', () => {
    assert.equal(toHex(padIso7816(new Uint8Array(0))), '80' + '00'.repeat(15));
    assert.equal(padIso7816(new Uint8Array(16)).length, 32);
    for (const length of [0, 1, 15, 16, 17, 31]) {
      const data = Uint8Array.from({ length }, (_, index) => index + 1);
      assert.deepEqual(unpadIso7816(padIso7816(data)), data);
    }
    for (const bad of ['00'.repeat(16), '01'.repeat(16), '80' + '00'.repeat(31)]) {
      assert.throws(() => unpadIso7816(hex(bad)), (error: unknown) => isScp03Error(error) && error.code === 'PADDING');
    }
  });
});

describe('security levels (Amendment D section 5.1.2)', () => {
  it('accepts 00, 01, 03, 11, 13, 33 and nothing else', () => {
    const accepted: number[] = [];
    for (let level = 0; level <= 0xff; level += 1) {
      try {
        checkSecurityLevel(level);
        accepted.push(level);
      } catch (error) {
        assert.ok(isScp03Error(error) && error.code === 'SECURITY_LEVEL');
      }
    }
    assert.deepEqual(accepted, [0x00, 0x01, 0x03, 0x11, 0x13, 0x33]);
  });
});
