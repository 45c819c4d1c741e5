import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  blockOffset,
  blockSizeFromSzx,
  decodeBlockValue,
  encodeBlockValue,
  isBlockSize,
  szxFromBlockSize,
} from '../../shared/coap/block.ts';
import type { BlockOption } from '../../shared/coap/block.ts';
import { assertCodecError, hex } from './bytes.ts';

// RFC 7959 2.2: value = NUM << 4 | M << 3 | SZX, as a uint of 0-3 bytes; size = 2 ** (SZX + 4).
const vectors: [string, string, BlockOption][] = [
  // RFC 7959 Figure 2 (simple block-wise GET), NUM/M/size written as in the figure
  ['2:0/1/128', '0b', { num: 0, more: true, size: 128 }],
  ['2:1/0/128', '13', { num: 1, more: false, size: 128 }],
  ['2:1/1/128', '1b', { num: 1, more: true, size: 128 }],
  ['2:2/0/128', '23', { num: 2, more: false, size: 128 }],
  // RFC 7959 3.1 early negotiation: the client asks for 64-byte blocks with 2:0/0/64
  ['2:0/0/64', '02', { num: 0, more: false, size: 64 }],
  // RFC 7959 3.2 atomic PUT, last block
  ['1:2/0/128', '23', { num: 2, more: false, size: 128 }],
  // 0 is the zero-length uint: NUM 0, M 0, SZX 0
  ['0/0/16', '', { num: 0, more: false, size: 16 }],
  // the widest 1-byte value: NUM 15, M 1, SZX 6 = 1111 1 110
  ['15/1/1024', 'fe', { num: 15, more: true, size: 1024 }],
  // NUM 16 needs 12 bits: 0x010 << 4 | 0 | 6 = 0x0106
  ['16/0/1024', '01 06', { num: 16, more: false, size: 1024 }],
  // NUM 4095, M 1, SZX 2: 0xfff0 | 0x8 | 0x2
  ['4095/1/64', 'ff fa', { num: 4095, more: true, size: 64 }],
  // NUM 4096 needs 20 bits: 0x1000 << 4 = 0x010000
  ['4096/0/16', '01 00 00', { num: 4096, more: false, size: 16 }],
  // the largest: NUM 2^20 - 1, M 1, SZX 6
  ['1048575/1/1024', 'ff ff fe', { num: 1048575, more: true, size: 1024 }],
];

describe('Block option values (RFC 7959 2.2)', () => {
  for (const [name, bytes, block] of vectors) {
    it(`${name} is ${bytes === '' ? 'the empty value' : bytes}`, () => {
      assert.deepStrictEqual(decodeBlockValue(hex(bytes)), block);
      assert.deepStrictEqual(encodeBlockValue(block), hex(bytes));
    });
  }

  it('accepts a value with leading zero bytes', () => {
    assert.deepStrictEqual(decodeBlockValue(hex('00 00 13')), { num: 1, more: false, size: 128 });
  });

  it('rejects SZX 7 and values longer than 3 bytes', () => {
    assertCodecError(() => decodeBlockValue(hex('07')), 'MALFORMED', { field: 'Block' });
    assertCodecError(() => decodeBlockValue(hex('ff ff ff'), 'Block2', 9), 'MALFORMED', {
      field: 'Block2',
      offset: 9,
    });
    assertCodecError(() => decodeBlockValue(hex('00 00 00 06')), 'OUT_OF_RANGE');
  });

  it('rejects out-of-range fields when encoding', () => {
    assertCodecError(() => encodeBlockValue({ num: -1, more: false, size: 16 }), 'OUT_OF_RANGE');
    assertCodecError(() => encodeBlockValue({ num: 0.5, more: false, size: 16 }), 'OUT_OF_RANGE');
    assertCodecError(() => encodeBlockValue({ num: 2 ** 20, more: false, size: 16 }), 'OUT_OF_RANGE');
    assertCodecError(
      () => encodeBlockValue({ num: 0, more: false, size: 2048 as BlockOption['size'] }, 'Block1'),
      'OUT_OF_RANGE',
      { field: 'Block1' },
    );
  });

  it('converts between SZX and size', () => {
    assert.equal(blockSizeFromSzx(0), 16);
    assert.equal(blockSizeFromSzx(6), 1024);
    assertCodecError(() => blockSizeFromSzx(7), 'MALFORMED');
    assert.equal(szxFromBlockSize(512), 5);
    assertCodecError(() => szxFromBlockSize(100), 'OUT_OF_RANGE');
    assert.equal(isBlockSize(256), true);
    assert.equal(isBlockSize(8), false);
    assert.equal(blockOffset({ num: 3, more: true, size: 64 }), 192);
  });
});
