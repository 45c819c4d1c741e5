import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { CBC_SHA256_MIN_FRAGMENT, cbcSha256Cipher, decryptCbcSha256, encryptCbcSha256 } from '../../server/dtls/cbc-sha256.ts';
import { ContentType } from '../../server/dtls/record.ts';
import { assertBadRecordMac, sampleContext as context, samplePlaintext as plaintext } from './fixtures/record-protection.ts';

const keys = { macKey: hex('00112233445566778899aabbccddeeff'.repeat(2)), encKey: hex('000102030405060708090a0b0c0d0e0f') };
const iv = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');

/** AES-128-CBC over whole blocks, no padding of its own: for building records by hand. */
function cbc(data: Uint8Array, recordIv = iv): Uint8Array {
  const cipher = createCipheriv('aes-128-cbc', keys.encKey, recordIv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

/** The RFC 5246 6.2.3.1 MAC, written here from node:crypto, not from the module under test. */
function referenceMac(text: Uint8Array, ctx = context): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt16BE(ctx.epoch, 0);
  header.writeUIntBE(ctx.sequenceNumber, 2, 6);
  header.writeUInt8(ctx.type, 8);
  header.writeUInt16BE(ctx.version, 9);
  header.writeUInt16BE(text.length, 11);
  return createHmac('sha256', keys.macKey).update(header).update(text).digest();
}

describe('AES-128-CBC-SHA256 record protection (RFC 5246 6.2.3.2)', () => {
  const fragment = encryptCbcSha256(keys, context, plaintext, iv);

  it('matches a record built independently: IV, then CBC(plaintext + HMAC-SHA256 + padding)', () => {
    // 21 + 32 = 53 bytes: 11 bytes of padding, each 10, make 64.
    const expected = Buffer.concat([iv, cbc(new Uint8Array(Buffer.concat([plaintext, referenceMac(plaintext), Buffer.alloc(11, 10)])))]);
    assert.equal(toHex(fragment), toHex(new Uint8Array(expected)));
    assert.equal(fragment.length, 16 + 64);
    const decipher = createDecipheriv('aes-128-cbc', keys.encKey, iv).setAutoPadding(false);
    const inner = Buffer.concat([decipher.update(fragment.subarray(16)), decipher.final()]);
    assert.equal(inner.subarray(21, 53).toString('hex'), referenceMac(plaintext).toString('hex'));
  });

  it('round trips every plaintext length around the block boundaries, with a fresh IV each time', () => {
    for (let length = 0; length <= 48; length++) {
      const text = new Uint8Array(length).map((_, i) => i * 7);
      const protectedText = encryptCbcSha256(keys, context, text);
      assert.equal(protectedText.length % 16, 0);
      assert.equal(protectedText.length, 16 + Math.ceil((length + 33) / 16) * 16);
      assert.deepEqual(decryptCbcSha256(keys, context, protectedText), text);
    }
    assert.notDeepEqual(encryptCbcSha256(keys, context, plaintext).subarray(0, 16), encryptCbcSha256(keys, context, plaintext).subarray(0, 16));
  });

  it('works through the RecordCipher interface', () => {
    const cipher = cbcSha256Cipher(keys);
    assert.deepEqual(cipher.open(context, cipher.protect(context, plaintext)), plaintext);
  });

  it('refuses every single-byte change of IV, ciphertext, MAC and padding with the same error', () => {
    for (let at = 0; at < fragment.length; at++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = fragment.slice();
        tampered[at]! ^= mask;
        assertBadRecordMac(() => decryptCbcSha256(keys, context, tampered));
      }
    }
  });

  it('refuses every truncation and every extension', () => {
    for (let length = 0; length < fragment.length; length++) assertBadRecordMac(() => decryptCbcSha256(keys, context, fragment.subarray(0, length)));
    assertBadRecordMac(() => decryptCbcSha256(keys, context, new Uint8Array([...fragment, 0])));
    assertBadRecordMac(() => decryptCbcSha256(keys, context, new Uint8Array([...fragment, ...fragment.subarray(16, 32)])));
    // Dropping the first ciphertext block leaves a well-formed length and a garbled start.
    assertBadRecordMac(() => decryptCbcSha256(keys, context, new Uint8Array([...fragment.subarray(16)])));
    assert.ok(CBC_SHA256_MIN_FRAGMENT === 64);
  });

  it('refuses a valid MAC with bad padding, and bad padding lengths, all with the same error', () => {
    const mac = referenceMac(plaintext);
    const body = Buffer.concat([plaintext, mac]); // 53 bytes; 11 padding bytes are due
    const badPaddings = [
      Buffer.from([10, 10, 10, 10, 10, 10, 10, 10, 10, 9, 10]), // one inner byte wrong
      Buffer.from([9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]), // first byte wrong
      Buffer.concat([Buffer.alloc(10, 0), Buffer.from([200])]), // claims more than the record holds
      Buffer.concat([Buffer.alloc(10, 0), Buffer.from([60])]), // would eat into the MAC
      Buffer.concat([Buffer.alloc(10, 3), Buffer.from([3])]), // consistent but too short: the MAC moves
    ];
    for (const padding of badPaddings) {
      const record = new Uint8Array(Buffer.concat([iv, cbc(new Uint8Array(Buffer.concat([body, padding])))]));
      assertBadRecordMac(() => decryptCbcSha256(keys, context, record));
    }
    // The control: the right padding passes, so the failures above are the padding's.
    const good = new Uint8Array(Buffer.concat([iv, cbc(new Uint8Array(Buffer.concat([body, Buffer.alloc(11, 10)])))]));
    assert.deepEqual(decryptCbcSha256(keys, context, good), plaintext);
    // Longer padding than needed is legal (RFC 5246 6.2.3.2): 27 bytes of 26.
    const long = new Uint8Array(Buffer.concat([iv, cbc(new Uint8Array(Buffer.concat([body, Buffer.alloc(27, 26)])))]));
    assert.deepEqual(decryptCbcSha256(keys, context, long), plaintext);
  });

  it('refuses a changed record header (type, version, epoch, sequence number) and wrong keys', () => {
    for (const changed of [
      { ...context, type: ContentType.handshake },
      { ...context, version: 0xfeff },
      { ...context, epoch: 2 },
      { ...context, sequenceNumber: context.sequenceNumber + 1 },
    ]) {
      assertBadRecordMac(() => decryptCbcSha256(keys, changed, fragment));
    }
    const otherMac = keys.macKey.slice();
    otherMac[0]! ^= 1;
    assertBadRecordMac(() => decryptCbcSha256({ ...keys, macKey: otherMac }, context, fragment));
    const otherKey = keys.encKey.slice();
    otherKey[15]! ^= 1;
    assertBadRecordMac(() => decryptCbcSha256({ ...keys, encKey: otherKey }, context, fragment));
    assertBadRecordMac(() => decryptCbcSha256({ ...keys, encKey: keys.encKey.subarray(0, 8) }, context, fragment));
  });

  it('rejects bad key and IV sizes when encrypting', () => {
    assert.throws(() => encryptCbcSha256({ ...keys, macKey: new Uint8Array(20) }, context, plaintext), RangeError);
    assert.throws(() => encryptCbcSha256(keys, context, plaintext, new Uint8Array(8)), RangeError);
  });
});
