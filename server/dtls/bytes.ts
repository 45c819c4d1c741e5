/**
 * Big-endian reading and writing for the DTLS wire structures (RFC 5246 section 4 presentation
 * language: uintN, opaque vectors with a length prefix). Every read past the end of the input is
 * a CodecError TRUNCATED naming the field, so parsers built on it only ever throw typed errors.
 */
import { CodecError } from '../../shared/errors.ts';

export class ByteReader {
  readonly #bytes: Uint8Array;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#offset = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  #take(length: number, field: string): number {
    if (length > this.remaining) {
      throw new CodecError('TRUNCATED', `${field} needs ${length} bytes, ${this.remaining} left`, { offset: this.#offset, field });
    }
    const at = this.#offset;
    this.#offset += length;
    return at;
  }

  uint(width: 1 | 2 | 3 | 6, field: string): number {
    const at = this.#take(width, field);
    let value = 0;
    // Multiplication, not shifts: a 48-bit sequence number does not fit a 32-bit shift.
    for (let i = 0; i < width; i++) value = value * 256 + this.#bytes[at + i]!;
    return value;
  }

  bytes(length: number, field: string): Uint8Array {
    const at = this.#take(length, field);
    return this.#bytes.slice(at, at + length);
  }

  /** opaque field<floor..2^(8*width)-1>: a length prefix of `width` bytes, then that many bytes. */
  vector(width: 1 | 2 | 3, field: string, floor = 0, ceiling = 2 ** (8 * width) - 1): Uint8Array {
    const start = this.#offset;
    const length = this.uint(width, field);
    if (length < floor || length > ceiling) {
      throw new CodecError('OUT_OF_RANGE', `${field} length ${length} outside ${floor}..${ceiling}`, { offset: start, field });
    }
    return this.bytes(length, field);
  }

  /** Throws TRAILING_BYTES unless the whole input was consumed. */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw new CodecError('TRAILING_BYTES', `${this.remaining} bytes after ${what}`, { offset: this.#offset, field: what });
    }
  }
}

/** uintN big-endian; callers pass values already known to fit. */
export function uintBytes(value: number, width: 1 | 2 | 3 | 6): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * width)) {
    throw new CodecError('OUT_OF_RANGE', `value does not fit uint${8 * width}`, { field: `uint${8 * width}` });
  }
  const out = new Uint8Array(width);
  let rest = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return out;
}

/** A length-prefixed opaque vector. */
export function vectorBytes(data: Uint8Array, width: 1 | 2 | 3): Uint8Array {
  return concatBytes(uintBytes(data.length, width), data);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
