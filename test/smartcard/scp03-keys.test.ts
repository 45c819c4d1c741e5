import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../fixtures/codec-assertions.ts';
import {
  DEFAULT_SCP03_KEY_VERSION,
  generateScp03KeySet,
  redactScp03KeyRecord,
  scp03KeyRecordSchema,
  scp03KeySetFromRecord,
  scp03KeySetToRecord,
} from '../../shared/smartcard/scp03-keys.ts';

describe('SCP03 static key sets', () => {
  it('generates KEY_ENC, KEY_MAC and KEY_DEK of the asked length, all different', () => {
    for (const length of [16, 24, 32] as const) {
      const keys = generateScp03KeySet(length);
      assert.equal(keys.keyVersion, DEFAULT_SCP03_KEY_VERSION);
      assert.deepEqual([keys.enc.length, keys.mac.length, keys.dek.length], [length, length, length]);
      assert.equal(new Set([toHex(keys.enc), toHex(keys.mac), toHex(keys.dek)]).size, 3);
    }
    assert.notEqual(toHex(generateScp03KeySet().enc), toHex(generateScp03KeySet().enc));
  });

  it('round-trips through the stored hex record', () => {
    const keys = generateScp03KeySet(24, 0x31);
    const record = scp03KeyRecordSchema.parse(scp03KeySetToRecord(keys));
    assert.deepEqual(scp03KeySetFromRecord(record), keys);
  });

  it('schema: AES lengths only, the three keys of one length, key version 01..7F, hex lowercased', () => {
    const k16 = '00112233445566778899AABBCCDDEEFF';
    assert.deepEqual(scp03KeyRecordSchema.parse({ enc: k16, mac: k16, dek: k16 }), {
      keyVersion: DEFAULT_SCP03_KEY_VERSION,
      enc: k16.toLowerCase(),
      mac: k16.toLowerCase(),
      dek: k16.toLowerCase(),
    });
    const bad = [
      { enc: k16.slice(2), mac: k16.slice(2), dek: k16.slice(2) },
      { enc: k16, mac: k16 + '0011223344556677', dek: k16 },
      { enc: k16, mac: k16, dek: k16, keyVersion: 0x80 },
      { enc: k16, mac: k16, dek: 'zz' + k16.slice(2) },
      { enc: k16, mac: k16 },
      { enc: k16, mac: k16, dek: k16, extra: k16 },
    ];
    for (const record of bad) assert.equal(scp03KeyRecordSchema.safeParse(record).success, false, JSON.stringify(Object.keys(record)));
  });

  it('schema errors and the redacted record never contain the key', () => {
    const secret = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const result = scp03KeyRecordSchema.safeParse({ enc: secret, mac: secret, dek: secret + '00' });
    assert.equal(result.success, false);
    assert.ok(!JSON.stringify(result.error?.issues.map((issue) => issue.message)).includes(secret));
    const redacted = redactScp03KeyRecord({ keyVersion: 0x30, enc: secret, mac: secret, dek: secret });
    assert.ok(!JSON.stringify(redacted).includes(secret));
    assert.equal(redacted.enc, '(hidden: 16 bytes)');
  });
});
