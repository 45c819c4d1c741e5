import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import {
  AES_128_CBC_SHA256_LAYOUT,
  AES_128_CCM_8_LAYOUT,
  keyBlock,
  masterSecret,
  prf,
  pskPremasterSecret,
  verifyData,
} from '../../server/dtls/prf.ts';

describe('TLS 1.2 PRF (HMAC-SHA256)', () => {
  // The TLS 1.2 SHA-256 PRF vector posted to the IETF TLS working group list
  // (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html) and reconfirmed on the
  // OASIS PKCS#11 list (https://lists.oasis-open.org/archives/pkcs11/201411/msg00019.html).
  const secret = hex('9bbe436ba940f017b17652849a71db35');
  const seed = hex('a0ba9f936cda311827a6f796ffd5198c');
  const expected =
    'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a' +
    '6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab' +
    '4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701' +
    '87347b66';

  it('produces the published 100 bytes', () => {
    assert.equal(toHex(prf(secret, 'test label', seed, 100)), expected);
  });

  it('is a prefix of itself for shorter outputs, including block boundaries', () => {
    for (const length of [0, 1, 31, 32, 33, 64, 99]) {
      assert.equal(toHex(prf(secret, 'test label', seed, length)), expected.slice(0, 2 * length));
    }
  });

  it('depends on the label', () => {
    assert.notEqual(toHex(prf(secret, 'test labe1', seed, 16)), expected.slice(0, 32));
  });
});

describe('PSK premaster secret (RFC 4279 section 2)', () => {
  it('is uint16 N, N zero bytes, uint16 N, psk', () => {
    assert.equal(toHex(pskPremasterSecret(hex('0a0b0c'))), '0003' + '000000' + '0003' + '0a0b0c');
  });

  it('has length 2N + 4 for a 16-byte key', () => {
    const psk = hex('00112233445566778899aabbccddeeff');
    const premaster = pskPremasterSecret(psk);
    assert.equal(premaster.length, 36);
    assert.equal(toHex(premaster.subarray(0, 2)), '0010');
    assert.ok(premaster.subarray(2, 18).every((byte) => byte === 0));
    assert.equal(toHex(premaster.subarray(18, 20)), '0010');
    assert.deepEqual(premaster.subarray(20), psk);
  });
});

describe('key schedule', () => {
  const clientRandom = new Uint8Array(32).fill(1);
  const serverRandom = new Uint8Array(32).fill(2);
  const premaster = pskPremasterSecret(new TextEncoder().encode('secretPSK'));
  const master = masterSecret(premaster, clientRandom, serverRandom);

  it('master secret is PRF(premaster, "master secret", client_random + server_random)[0..47]', () => {
    assert.equal(master.length, 48);
    const seed = new Uint8Array([...clientRandom, ...serverRandom]);
    assert.deepEqual(master, prf(premaster, 'master secret', seed, 48));
  });

  it('key block uses server_random + client_random and splits in RFC 5246 6.3 order', () => {
    const block = prf(master, 'key expansion', new Uint8Array([...serverRandom, ...clientRandom]), 40);
    const keys = keyBlock(master, clientRandom, serverRandom, AES_128_CCM_8_LAYOUT);
    assert.equal(keys.clientWriteMacKey.length, 0);
    assert.deepEqual(keys.clientWriteKey, block.subarray(0, 16));
    assert.deepEqual(keys.serverWriteKey, block.subarray(16, 32));
    assert.deepEqual(keys.clientWriteIv, block.subarray(32, 36));
    assert.deepEqual(keys.serverWriteIv, block.subarray(36, 40));
  });

  it('CBC-SHA256 layout puts the two MAC keys first', () => {
    const block = prf(master, 'key expansion', new Uint8Array([...serverRandom, ...clientRandom]), 96);
    const keys = keyBlock(master, clientRandom, serverRandom, AES_128_CBC_SHA256_LAYOUT);
    assert.deepEqual(keys.clientWriteMacKey, block.subarray(0, 32));
    assert.deepEqual(keys.serverWriteMacKey, block.subarray(32, 64));
    assert.deepEqual(keys.clientWriteKey, block.subarray(64, 80));
    assert.deepEqual(keys.serverWriteKey, block.subarray(80, 96));
    assert.equal(keys.serverWriteIv.length, 0);
  });

  it('verify_data is 12 bytes and differs between client and server', () => {
    const hash = new Uint8Array(createHash('sha256').update('handshake messages').digest());
    const client = verifyData(master, 'client finished', hash);
    const server = verifyData(master, 'server finished', hash);
    assert.equal(client.length, 12);
    assert.deepEqual(client, prf(master, 'client finished', hash, 12));
    assert.notDeepEqual(client, server);
  });
});
