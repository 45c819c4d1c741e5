import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { CCM_8_OVERHEAD, decryptCcm8, encryptCcm8, type RecordContext } from '../../server/dtls/ccm8.ts';
import { BadRecordMacError } from '../../server/dtls/record-protection-error.ts';
import { assertBadRecordMac, flipBit, sampleContext as context, samplePlaintext as plaintext } from './fixtures/record-protection.ts';

const keys = { key: hex('000102030405060708090a0b0c0d0e0f'), implicitIv: hex('a0a1a2a3') };

describe('AES-128-CCM-8 record protection', () => {
  const fragment = encryptCcm8(keys, context, plaintext);

  it('prefixes the explicit nonce epoch + seq and appends an 8-byte tag', () => {
    assert.equal(fragment.length, plaintext.length + CCM_8_OVERHEAD);
    assert.equal(toHex(fragment.subarray(0, 8)), '0001000102030405');
  });

  it('round trips, including an empty plaintext', () => {
    assert.deepEqual(decryptCcm8(keys, context, fragment), plaintext);
    const empty = encryptCcm8(keys, context, new Uint8Array(0));
    assert.equal(empty.length, CCM_8_OVERHEAD);
    assert.deepEqual(decryptCcm8(keys, context, empty), new Uint8Array(0));
  });

  it('is deterministic for the same key, nonce and input (the nonce must never repeat)', () => {
    assert.deepEqual(encryptCcm8(keys, context, plaintext), fragment);
    assert.notDeepEqual(encryptCcm8(keys, { ...context, sequenceNumber: 6 }, plaintext), fragment);
  });

  it('refuses every single-bit flip of explicit nonce, ciphertext and tag with the same error', () => {
    for (let bit = 0; bit < fragment.length * 8; bit++) {
      assertBadRecordMac(() => decryptCcm8(keys, context, flipBit(fragment, bit)));
    }
  });

  it('refuses every change of the additional data (type, version, epoch, sequence number)', () => {
    const contexts: RecordContext[] = [];
    for (let bit = 0; bit < 8; bit++) contexts.push({ ...context, type: context.type ^ (1 << bit) });
    for (let bit = 0; bit < 16; bit++) contexts.push({ ...context, version: context.version ^ (1 << bit) });
    for (let bit = 0; bit < 16; bit++) contexts.push({ ...context, epoch: context.epoch ^ (1 << bit) });
    for (let bit = 0; bit < 48; bit++) contexts.push({ ...context, sequenceNumber: Number(BigInt(context.sequenceNumber) ^ (1n << BigInt(bit))) });
    assert.equal(contexts.length, 88);
    for (const changed of contexts) assertBadRecordMac(() => decryptCcm8(keys, changed, fragment));
  });

  it('refuses a plaintext length mismatch: an extra or missing byte', () => {
    assertBadRecordMac(() => decryptCcm8(keys, context, new Uint8Array([...fragment, 0])));
    assertBadRecordMac(() => decryptCcm8(keys, context, fragment.subarray(0, fragment.length - 1)));
  });

  it('refuses short fragments, a wrong key and a wrong implicit IV', () => {
    for (let length = 0; length < CCM_8_OVERHEAD; length++) assertBadRecordMac(() => decryptCcm8(keys, context, fragment.subarray(0, length)));
    assertBadRecordMac(() => decryptCcm8({ ...keys, key: flipBit(keys.key, 0) }, context, fragment));
    assertBadRecordMac(() => decryptCcm8({ ...keys, implicitIv: flipBit(keys.implicitIv, 31) }, context, fragment));
    assertBadRecordMac(() => decryptCcm8({ ...keys, key: keys.key.subarray(0, 15) }, context, fragment));
  });

  it('the error says nothing about the key', () => {
    const error = new BadRecordMacError();
    assert.equal(error.code, 'BAD_RECORD_MAC');
    assert.ok(!error.message.includes(toHex(keys.key)));
  });

  it('rejects bad key sizes when encrypting', () => {
    assert.throws(() => encryptCcm8({ ...keys, implicitIv: new Uint8Array(12) }, context, plaintext), RangeError);
  });
});
