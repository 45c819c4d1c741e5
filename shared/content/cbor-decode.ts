import { decode, Tokenizer, Type, type DecodeOptions, type Token } from 'cborg';
import type { DecodeTokenizer } from 'cborg/interface';
import { CodecError, isCodecError } from '../errors.ts';
import { DecodeLimits } from './codec.ts';

/**
 * Reading CBOR (RFC 8949) through cborg, the one way every CBOR format here reads it. The
 * BoundedTokenizer sits between cborg's tokenizer and whoever consumes its tokens, either
 * cborg.decode() (SenML-CBOR, and SenML-JSON through cborg's JSON tokenizer) or a decoder that
 * walks the tokens itself (LwM2M CBOR, plain CBOR), which it needs to keep integer and float apart
 * (1.0 and 1 are the same JS number) and to see tags. It
 *   - bounds nesting at DecodeLimits.maxDepth: cborg.decode() recurses, and a walker may too;
 *   - keeps the offset of the item being read, which cborg's messages do not reliably give;
 *   - reads text strictly as UTF-8 (cborg turns bad bytes into U+FFFD and drops a leading BOM);
 *   - turns cborg's errors into CodecErrors, without its messages: some quote the payload.
 * Limits of cborg that show up as errors: indefinite-length strings are UNSUPPORTED, and so are
 * tags under cborg.decode().
 */

/**
 * Not `strict`: preferred (shortest) serialization is what encoders SHOULD do (RFC 8949
 * section 4.1); a client that writes 0x1800 for 0 still sent valid CBOR.
 */
const DECODE_OPTIONS: DecodeOptions = {
  // Spelled out: a tokenizer we construct does not get cborg's defaults merged in.
  allowBigInt: true,
  allowIndefinite: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  retainStringBytes: true,
};

/** A token and the offset of its first byte. */
export interface CborItem {
  readonly token: Token;
  readonly offset: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class BoundedTokenizer implements DecodeTokenizer {
  /** Offset of the item read last. */
  start = 0;
  readonly #inner: DecodeTokenizer;
  readonly #checkUtf8: boolean;
  /** Items still due in each open container, innermost last; Infinity for indefinite length. */
  readonly #open: number[] = [];

  constructor(inner: DecodeTokenizer, checkUtf8: boolean) {
    this.#inner = inner;
    this.#checkUtf8 = checkUtf8;
  }

  done(): boolean {
    return this.#inner.done();
  }

  pos(): number {
    return this.#inner.pos();
  }

  next(): Token {
    this.start = this.#inner.pos();
    const token = this.#inner.next();
    if (Type.equals(token.type, Type.break)) {
      this.#open.pop();
    } else {
      // A tag is a prefix of the item it tags: only that item fills the container's slot.
      if (this.#open.length > 0 && !Type.equals(token.type, Type.tag)) this.#open[this.#open.length - 1]! -= 1;
      const container = Type.equals(token.type, Type.array) ? 1 : Type.equals(token.type, Type.map) ? 2 : 0;
      if (container > 0 && token.value > 0) {
        this.#open.push(token.value * container);
        if (this.#open.length > DecodeLimits.maxDepth) {
          throw new CodecError('LIMIT_EXCEEDED', `nesting deeper than ${DecodeLimits.maxDepth}`, { offset: this.start });
        }
      }
      // The empty string is a token cborg shares between payloads; it has no bytes and needs none.
      if (this.#checkUtf8 && token.byteValue !== undefined && Type.equals(token.type, Type.string)) {
        token.value = strictText(token.byteValue, this.start);
      }
    }
    while (this.#open.length > 0 && this.#open[this.#open.length - 1] === 0) this.#open.pop();
    return token;
  }

  /**
   * The next item, for a decoder that walks the tokens itself. Input that ends before or inside
   * the item is TRUNCATED at the item's offset.
   */
  read(): CborItem {
    const offset = this.#inner.pos();
    if (this.#inner.done()) throw new CodecError('TRUNCATED', 'CBOR input ends before an item', { offset });
    try {
      return { token: this.next(), offset };
    } catch (error) {
      throw codecErrorFromCborg(error, this, offset);
    }
  }
}

/** A tokenizer over CBOR bytes for a decoder that walks the tokens itself. */
export function cborTokenizer(bytes: Uint8Array): BoundedTokenizer {
  return new BoundedTokenizer(new Tokenizer(plainBytes(bytes), DECODE_OPTIONS), true);
}

/** One CBOR item as JS values: maps as Map, integers beyond 2^53 as bigint. */
export function decodeCbor(bytes: Uint8Array): unknown {
  const data = plainBytes(bytes);
  const tokenizer = new BoundedTokenizer(new Tokenizer(data, DECODE_OPTIONS), true);
  return decodeWithCborg(() => decode(data, { ...DECODE_OPTIONS, tokenizer }), tokenizer, data.length);
}

/**
 * Runs a cborg decode that reads from `tokenizer`; whatever it throws becomes a CodecError.
 * Input that ends inside an item is TRUNCATED at `length`, the end of the input.
 */
export function decodeWithCborg(run: () => unknown, tokenizer: BoundedTokenizer, length: number): unknown {
  try {
    return run();
  } catch (error) {
    throw codecErrorFromCborg(error, tokenizer, length);
  }
}

/**
 * On Node, cborg may hand out Buffers, and slices of a Buffer input are Buffers too; callers
 * compare and store plain Uint8Arrays. A view, not a copy.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function strictText(bytes: Uint8Array, offset: number): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CodecError('MALFORMED', 'text string is not UTF-8', { offset });
  }
}

function codecErrorFromCborg(error: unknown, tokenizer: BoundedTokenizer, truncatedAt: number): CodecError {
  if (isCodecError(error)) return error;
  const message = error instanceof Error ? error.message : '';
  const offset = tokenizer.start;
  if (/repeat map key/.test(message)) return new CodecError('DUPLICATE', 'the same key twice in one map', { offset });
  if (/too many terminals/.test(message)) return new CodecError('TRAILING_BYTES', 'bytes after the top-level item', { offset: tokenizer.pos() });
  if (/indefinite length bytes\/strings/.test(message)) {
    return new CodecError('UNSUPPORTED', 'indefinite-length byte and text strings are not supported', { offset });
  }
  if (/tag not supported/.test(message)) return new CodecError('UNSUPPORTED', 'CBOR tags are not supported here', { offset });
  if (/not enough|did not find any content|unexpected end/.test(message) || tokenizer.done()) {
    return new CodecError('TRUNCATED', 'input ends inside an item', { offset: truncatedAt });
  }
  return new CodecError('MALFORMED', 'not well-formed CBOR', { offset });
}
