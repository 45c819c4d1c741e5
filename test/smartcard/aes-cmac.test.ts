import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { aesCmac, cmacSubkeys } from '../../shared/smartcard/aes-cmac.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';

// The messages of RFC 4493 section 4 and NIST SP 800-38B appendix D: prefixes of one 64-byte text.
const MESSAGE = hex(
  '6bc1bee22e409f96e93d7e117393172a',
  'ae2d8a571e03ac9c9eb76fac45af8e51',
  '30c81c46a35ce411e5fbc1191a0a52ef',
  'f69f2445df4f9b17ad2b417be66c3710',
);

function examples(key: string, tags: readonly [string, string, string, string]): void {
  const lengths = [0, 16, 40, 64] as const;
  lengths.forEach((length, index) => {
    it(`Mlen = ${length * 8} bits`, () => {
      assert.equal(toHex(aesCmac(hex(key), MESSAGE.subarray(0, length))), tags[index]);
    });
  });
}

describe('AES-CMAC', () => {
  // RFC 4493 section 4 (https://www.rfc-editor.org/rfc/rfc4493#section-4), AES-128.
  describe('RFC 4493 section 4 test vectors (AES-128)', () => {
    const key = '2b7e151628aed2a6abf7158809cf4f3c';
    it('derives the subkeys K1 and K2 of section 4', () => {
      const { k1, k2 } = cmacSubkeys(hex(key));
      assert.equal(toHex(k1), 'fbeed618357133667c85e08f7236a8de');
      assert.equal(toHex(k2), 'f7ddac306ae266ccf90bc11ee46d513b');
    });
    examples(key, [
      'bb1d6929e95937287fa37d129b756746',
      '070a16b46b4d4144f79bdd9dd04a287c',
      'dfa66747de9ae63030ca32611497c827',
      '51f0bebf7e3b9d92fc49741779363cfe',
    ]);
  });

  // NIST SP 800-38B appendix D.2 (CMAC-AES192), as published in the NIST examples document
  // https://csrc.nist.gov/CSRC/media/Projects/Cryptographic-Standards-and-Guidelines/documents/examples/AES_CMAC.pdf
  // (also reproduced by `openssl mac -cipher AES-192-CBC CMAC`).
  describe('NIST SP 800-38B appendix D.2 (AES-192)', () => {
    examples('8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b', [
      'd17ddf46adaacde531cac483de7a9367',
      '9e99a7bf31e710900662f65e617c5184',
      '8a1de5be2eb31aad089a82e6ee908b0e',
      'a1d5df0eed790f794d77589659f39a11',
    ]);
  });

  // NIST SP 800-38B appendix D.3 (CMAC-AES256), same source.
  describe('NIST SP 800-38B appendix D.3 (AES-256)', () => {
    examples('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', [
      '028962f61b7bf89efc6b551f4667d983',
      '28a7023f452e8f82bd4bf28d8c37c35c',
      'aaf3d8f1de5640c232f5b169b9c911e6',
      'e1992190549f6ed5696a2c056c315410',
    ]);
  });

  it('changes with any bit of the message', () => {
    const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const tag = toHex(aesCmac(key, MESSAGE));
    const flipped = MESSAGE.slice();
    flipped[63]! ^= 0x01;
    assert.notEqual(toHex(aesCmac(key, flipped)), tag);
  });

  it('refuses a key AES does not take, without showing the key', () => {
    assert.throws(
      () => aesCmac(hex('00112233445566778899aabbccddee'), MESSAGE),
      (error: unknown) => isScp03Error(error) && error.code === 'KEY' && !error.message.includes('00112233'),
    );
  });
});
