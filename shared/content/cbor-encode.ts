import { CodecError } from '../errors.ts';
import { concatBytes } from './bytes.ts';

/**
 * Writing CBOR (RFC 8949), the one writer every CBOR format here uses. It writes definite
 * lengths and the shortest argument for every head (preferred serialization, section 4.1);
 * what goes into the item (which float width, whether to tag) is the caller's choice.
 */
export class CborWriter {
  readonly #parts: Uint8Array[] = [];

  /** An item head (section 3.1): major type, then the argument in the fewest bytes. */
  head(major: number, argument: number | bigint): this {
    const value = BigInt(argument);
    const size = value < 24n ? 0 : value < 0x100n ? 1 : value < 0x10000n ? 2 : value < 0x100000000n ? 4 : 8;
    const bytes = new Uint8Array(1 + size);
    // Additional information 24, 25, 26, 27: the argument follows in 1, 2, 4, 8 bytes.
    bytes[0] = (major << 5) | (size === 0 ? Number(value) : ARGUMENT_SIZE_INFO[size]!);
    for (let index = size, rest = value; index >= 1; index--, rest >>= 8n) bytes[index] = Number(rest & 0xffn);
    this.#parts.push(bytes);
    return this;
  }

  /** Major type 0 or 1: -2^64..2^64-1; a type's narrower range is the caller's to check. */
  integer(value: bigint, field: string): this {
    if (value < -(2n ** 64n) || value >= 2n ** 64n) throw new CodecError('OUT_OF_RANGE', 'integer beyond what CBOR can carry', { field });
    return value >= 0n ? this.head(0, value) : this.head(1, -1n - value);
  }

  bytes(value: Uint8Array): this {
    this.head(2, value.length);
    this.#parts.push(value);
    return this;
  }

  text(value: string): this {
    const encoded = utf8.encode(value);
    this.head(3, encoded.length);
    this.#parts.push(encoded);
    return this;
  }

  array(length: number): this {
    return this.head(4, length);
  }

  map(length: number): this {
    return this.head(5, length);
  }

  tag(number: number): this {
    return this.head(6, number);
  }

  boolean(value: boolean): this {
    this.#parts.push(Uint8Array.of(value ? 0xf5 : 0xf4));
    return this;
  }

  /** binary64 always, for readers that may not take the narrower widths. */
  float64(value: number): this {
    const bytes = new Uint8Array(9);
    bytes[0] = 0xfb;
    new DataView(bytes.buffer).setFloat64(1, value);
    this.#parts.push(bytes);
    return this;
  }

  /** binary32 whenever it holds the value exactly, else binary64; NaN never compares equal, so it takes binary64. */
  float(value: number): this {
    if (Math.fround(value) !== value) return this.float64(value);
    const bytes = new Uint8Array(5);
    bytes[0] = 0xfa;
    new DataView(bytes.buffer).setFloat32(1, value);
    this.#parts.push(bytes);
    return this;
  }

  /** Everything written so far, as one array. */
  finish(): Uint8Array {
    return concatBytes(this.#parts);
  }
}

const utf8 = new TextEncoder();
const ARGUMENT_SIZE_INFO: Readonly<Record<number, number>> = { 1: 24, 2: 25, 4: 26, 8: 27 };
