import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { aesCmac } from '../../shared/smartcard/aes-cmac.ts';
import { DERIVATION_CONSTANT, kdfCounterModeCmac, scp03Derive } from '../../shared/smartcard/kdf.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';

const NOTHING = new Uint8Array(0);

/*
 * NIST CAVP, SP 800-108 KBKDF validation vectors, file KDFCTR_gen.rsp of CounterMode.zip
 * (https://csrc.nist.gov/projects/cryptographic-algorithm-validation-program/key-derivation).
 * The .rsp file itself was not in our search index; the values below are its entries as quoted,
 * with their section headers, by several independent test suites that were: BouncyCastle C#
 * KdfCounterTest (TestCMAC_AES128_BEFORE_FIXED_8_BITS, ..._MIDDLE_FIXED_8_BITS,
 * TestCMAC_AES192_...), the rust_kbkdf crate's CMAC tests, NIST's own ACVP-Server
 * CounterKdfTests, and a Java Nist800_108Test citing KDFCTR_gen.txt. Each entry is checked here.
 */
describe('SP 800-108 counter mode with CMAC-AES, 8-bit counter (NIST CAVP KDFCTR_gen.rsp)', () => {
  const beforeFixed = [
    // [PRF=CMAC_AES128] [CTRLOCATION=BEFORE_FIXED] [RLEN=8_BITS]
    {
      name: 'CMAC_AES128 L=128 COUNT=0',
      ki: 'dff1e50ac0b69dc40f1051d46c2b069c',
      fixed: 'c16e6e02c5a3dcc8d78b9ac1306877761310455b4e41469951d9e6c2245a064b33fd8c3b01203a7824485bf0a64060c4648b707d2607935699316ea5',
      ko: '8be8f0869b3c0ba97b71863d1b9f7813',
    },
    {
      name: 'CMAC_AES128 L=128 COUNT=1',
      ki: 'e4d94da336fada7c0ee4a9591dd0327a',
      fixed: '538fefb2eeb7c50c84bf603a7beddff4bba049f0052c45f13c56e9ae5944eb22d677f280e5a29c588cf40c7c57f7767aad3d595069fb40d02c01f866',
      ko: '268a1d44ba5a5b1a28b9a611c76671f7',
    },
    {
      name: 'CMAC_AES128 L=256 COUNT=0 (two PRF blocks)',
      ki: '682e814d872397eba71170a693514904',
      fixed: 'e323cdfa7873a0d72cd86ffb4468744f097db60498f7d0e3a43bafd2d1af675e4a88338723b1236199705357c47bf1d89b2f4617a340980e6331625c',
      ko: 'dac9b6ca405749cfb065a0f1e42c7c4224d3d5db32fdafe9dee6ca193316f2c7',
    },
    {
      name: 'CMAC_AES128 L=160 COUNT=0 (output cut inside a block)',
      ki: '58618d4c998ed1d2efc2fcfe9bd2b78b',
      fixed: 'd02fd07ba3ce8d82b0b561dfed84211e71eef1ae51c1125490595cc11b8b5ab01de0d279c36b632ca1f131621883672cfebedc821b26093d53adafc7',
      ko: '6141172f887da52aaa26d844af28f56c82689a99',
    },
    {
      name: 'CMAC_AES128 L=320 COUNT=0 (three PRF blocks)',
      ki: 'bb31eef5a2ca3bfb342c5800fee67313',
      fixed: 'f85ae18f15ce1a5e036d6e3fd227243a9863f88ef532ce1da810b6639c0928f9b99fe909487d3748cff857cdb790f89e09d8c634dccb616cf7a2663a',
      ko: '8923d38effde99e24f67dec9330c4f1b874fc382ad644140e73a8e406f405d3fe4b4730b7291275a',
    },
    // [PRF=CMAC_AES192] [CTRLOCATION=BEFORE_FIXED] [RLEN=8_BITS]
    {
      name: 'CMAC_AES192 L=128 COUNT=0',
      ki: '53d1705caab7b06886e2dbb53eea349aa7419a034e2d92b9',
      fixed: 'b120f7ce30235784664deae3c40723ca0539b4521b9aece43501366cc5df1d9ea163c602702d0974665277c8a7f6a057733d66f928eb7548cf43e374',
      ko: 'eae32661a323f6d06d0116bb739bd76a',
    },
  ];
  for (const vector of beforeFixed) {
    it(`BEFORE_FIXED ${vector.name}`, () => {
      const out = kdfCounterModeCmac(hex(vector.ki), {
        beforeCounter: NOTHING,
        afterCounter: hex(vector.fixed),
        lengthBits: vector.ko.length * 4,
      });
      assert.equal(toHex(out), vector.ko);
    });
  }

  // [CTRLOCATION=MIDDLE_FIXED] [RLEN=8_BITS], the layout SCP03 uses (counter between L and context).
  const middleFixed = [
    {
      name: 'CMAC_AES128 L=128 COUNT=0',
      ki: 'b6e04abd1651f8794d4326f4c684e631',
      before: '93612f7256c46a3d856d3e951e32dbf15fe11159d0b389ad38d603850fee6d18d22031435ed36ee20da76745fbea4b10fe1e',
      after: '99322aae605a5f01e32b',
      ko: 'dcb1db87a68762c6b3354779fa590bef',
    },
    {
      name: 'CMAC_AES192 L=128 COUNT=0',
      ki: 'e09079196120accdf43293f3593e692481391080e233f40b',
      before: '0ec4fb9f0b4c59bbcbbf2c85466f92e1631cac32827e0485b6c56ba2ba5e72252f3c0895fd48ffbe18735d5c8d9a15c3985f',
      after: '9a1a87dfa1698b60d0a0',
      ko: '2233d0566417bb549d3d5e9e28673168',
    },
  ];
  for (const vector of middleFixed) {
    it(`MIDDLE_FIXED ${vector.name}`, () => {
      const out = kdfCounterModeCmac(hex(vector.ki), { beforeCounter: hex(vector.before), afterCounter: hex(vector.after), lengthBits: 128 });
      assert.equal(toHex(out), vector.ko);
    });
  }

  it('refuses an output length that is not whole bytes or needs more than 255 blocks', () => {
    const key = hex('dff1e50ac0b69dc40f1051d46c2b069c');
    for (const lengthBits of [0, 12, 256 * 128]) {
      assert.throws(() => kdfCounterModeCmac(key, { beforeCounter: NOTHING, afterCounter: NOTHING, lengthBits }), (error: unknown) =>
        isScp03Error(error) && error.code === 'KEY',
      );
    }
  });
});

describe('SCP03 derivation data (Amendment D section 4.1.5)', () => {
  // Independent check of the layout: the CMAC (tested above against RFC 4493) over the data
  // spelled out byte by byte: 11 x 00, constant, separator 00, L (2 bytes), i, context.
  const key = hex('404142434445464748494a4b4c4d4e4f');
  const context = hex('f0f1f2f3f4f5f6f7', '0102030405060708');

  it('is label || 00 || L || i || context, one block for 128 bits', () => {
    const expected = aesCmac(key, hex('0000000000000000000000', '06', '00', '0080', '01', 'f0f1f2f3f4f5f6f70102030405060708'));
    assert.equal(toHex(scp03Derive(key, DERIVATION_CONSTANT.S_MAC, context, 128)), toHex(expected));
  });

  it('takes two blocks with i = 1, 2 for a 256-bit key and keeps L = 0100 in both', () => {
    const block = (i: string): Uint8Array => aesCmac(key, hex('0000000000000000000000', '04', '00', '0100', i, toHex(context)));
    assert.equal(toHex(scp03Derive(key, DERIVATION_CONSTANT.S_ENC, context, 256)), toHex(block('01')) + toHex(block('02')));
  });

  it('cuts a 64-bit cryptogram from the first block, with L = 0040 in the input', () => {
    const full = aesCmac(key, hex('0000000000000000000000', '00', '00', '0040', '01', toHex(context)));
    assert.equal(toHex(scp03Derive(key, DERIVATION_CONSTANT.CARD_CRYPTOGRAM, context, 64)), toHex(full.subarray(0, 8)));
  });
});
