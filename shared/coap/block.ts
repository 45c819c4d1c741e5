import { CodecError } from '../errors.ts';
import { decodeUint, encodeUint } from './value-format.ts';

/**
 * The value of a Block1 or Block2 option (RFC 7959 2.2): a uint of 0-3 bytes holding
 * NUM (4, 12 or 20 bits), the M bit and SZX (3 bits), block size = 2 ** (SZX + 4).
 *
 *   0 1 2 3 4 5 6 7        (one byte; the two- and three-byte forms widen NUM)
 *   |  NUM  |M| SZX |
 *
 * SZX 7 is reserved over UDP (RFC 8323 uses it for BERT on reliable transports, which we do
 * not support), so the sizes are 16..1024.
 */
export type BlockSize = 16 | 32 | 64 | 128 | 256 | 512 | 1024;

export interface BlockOption {
  /** Block number: 0 .. 2^20 - 1. */
  readonly num: number;
  /** M: more blocks follow (Block2 response, Block1 request) or, in a Block1 response, the server holds on. */
  readonly more: boolean;
  readonly size: BlockSize;
}

export const MAX_BLOCK_NUM = 0xfffff;
export const BLOCK_SIZES: readonly BlockSize[] = [16, 32, 64, 128, 256, 512, 1024];
const RESERVED_SZX = 7;

export function isBlockSize(size: number): size is BlockSize {
  return (BLOCK_SIZES as readonly number[]).includes(size);
}

export function blockSizeFromSzx(szx: number): BlockSize {
  const size = BLOCK_SIZES[szx];
  if (size === undefined) {
    throw new CodecError('MALFORMED', `block SZX must be 0..6 (7 is reserved; BERT is not supported)`, {
      field: 'SZX',
    });
  }
  return size;
}

export function szxFromBlockSize(size: number): number {
  const szx = BLOCK_SIZES.indexOf(size as BlockSize);
  if (szx === -1) {
    throw new CodecError('OUT_OF_RANGE', 'block size must be a power of two 16..1024', { field: 'size' });
  }
  return szx;
}

/** Byte offset of the block's first byte in the whole body (RFC 7959 2.2: NUM * size). */
export function blockOffset(block: BlockOption): number {
  return block.num * block.size;
}

/** Decodes a Block option value; the caller has checked its length is 0..3 bytes. */
export function decodeBlockValue(value: Uint8Array, field = 'Block', offset?: number): BlockOption {
  if (value.length > 3) {
    throw new CodecError('OUT_OF_RANGE', 'a Block option value is 0-3 bytes', { field, offset });
  }
  const raw = decodeUint(value);
  const szx = raw & 0x07;
  if (szx === RESERVED_SZX) {
    throw new CodecError('MALFORMED', 'block SZX 7 is reserved (BERT is not supported)', { field, offset });
  }
  return { num: Math.floor(raw / 16), more: (raw & 0x08) !== 0, size: BLOCK_SIZES[szx]! };
}

export function encodeBlockValue(block: BlockOption, field = 'Block'): Uint8Array {
  if (!Number.isInteger(block.num) || block.num < 0 || block.num > MAX_BLOCK_NUM) {
    throw new CodecError('OUT_OF_RANGE', `block number must be an integer 0..${MAX_BLOCK_NUM}`, { field });
  }
  if (typeof block.more !== 'boolean') {
    throw new CodecError('TYPE_MISMATCH', 'block M must be a boolean', { field });
  }
  const szx = BLOCK_SIZES.indexOf(block.size);
  if (szx === -1) {
    throw new CodecError('OUT_OF_RANGE', 'block size must be a power of two 16..1024', { field });
  }
  return encodeUint(block.num * 16 + (block.more ? 0x08 : 0) + szx);
}
