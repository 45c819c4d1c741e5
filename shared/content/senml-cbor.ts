import { decode, encode, Token, Tokenizer, Type } from 'cborg';
import type { DecodeOptions, EncodeOptions } from 'cborg';
import type { DecodeTokenizer } from 'cborg/interface';
import { CodecError, isCodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import type { LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { readRecord, recordsFromTree, treeFromRecords, type SenmlRecord } from './senml-record.ts';
import type { ContentTree } from './tree.ts';

/**
 * SenML-CBOR, content format 112 (RFC 8428 section 6; LwM2M Core 1.1.1 section 7.4.4): an
 * array of maps keyed by the integer labels of RFC 8428 Table 4, plus LwM2M's text key "vlo".
 * "vd" is a byte string. Values are typed from the object model as senml-record.ts describes.
 *
 * Decoding goes through cborg with a tokenizer wrapper that knows the byte offset of every
 * item (for error messages), bounds nesting at DecodeLimits.maxDepth, and rejects text that is
 * not UTF-8. Limits of cborg that show up as errors: indefinite-length strings and tags (so
 * decimal fractions, tag 4) are UNSUPPORTED.
 */
const LABELS = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 } as const;
const LABEL_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(LABELS).map(([name, label]) => [label, name]));

const ENCODE_OPTIONS: EncodeOptions = {
  // Constrained clients may not decode half floats, so every float is a float64. Every integer
  // handed to cborg (labels and integer values) is a bigint and stays a CBOR integer, so any
  // JS number here is a float value, integral or not.
  float64: true,
  typeEncoders: { number: (value: number) => new Token(Type.float, value) },
  // Keep bn, n, value in the order written, as the LwM2M examples show, not sorted by key bytes.
  mapSorter: () => 0,
};

/**
 * Not `strict`: preferred (shortest) serialization is what encoders SHOULD do (RFC 8949
 * section 4.1); a client that writes 0x1800 for 0 still sent valid CBOR.
 */
const DECODE_OPTIONS: DecodeOptions = {
  // Spelled out: the tokenizer we construct does not get cborg's defaults merged in.
  allowBigInt: true,
  allowIndefinite: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  retainStringBytes: true,
};

export function encodeSenmlCbor(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  return formatSenmlCbor(recordsFromTree(tree, path, types));
}

export function decodeSenmlCbor(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  return treeFromRecords(parseSenmlCbor(bytes), path, types);
}

export const senmlCborCodec: TreeCodec = { encode: encodeSenmlCbor, decode: decodeSenmlCbor };

/** Records -> bytes. */
export function formatSenmlCbor(records: readonly SenmlRecord[]): Uint8Array {
  const pack = records.map((record) => {
    const map = new Map<bigint | string, unknown>();
    if (record.bn !== undefined) map.set(BigInt(LABELS.bn), record.bn);
    if (record.n !== undefined) map.set(BigInt(LABELS.n), record.n);
    if (record.value !== undefined) {
      const { kind, value } = record.value;
      map.set(kind === 'vlo' ? 'vlo' : BigInt(LABELS[kind]), value);
    }
    return map;
  });
  return plainBytes(encode(pack, ENCODE_OPTIONS));
}

/**
 * On Node, cborg may hand out Buffers, and slices of a Buffer input are Buffers too; callers
 * compare and store plain Uint8Arrays. A view, not a copy.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes -> records, base names not yet applied. Every failure is a CodecError. */
export function parseSenmlCbor(bytes: Uint8Array): SenmlRecord[] {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`, {
      offset: DecodeLimits.maxPayloadBytes,
    });
  }
  const data = plainBytes(bytes);
  const tokenizer = new BoundedTokenizer(new Tokenizer(data, DECODE_OPTIONS), true);
  const pack = decodeWithCborg(() => decode(data, { ...DECODE_OPTIONS, tokenizer }), tokenizer, data.length);
  if (!Array.isArray(pack)) throw new CodecError('MALFORMED', 'a SenML pack is an array of records', { offset: 0 });
  return pack.map((entry: unknown, index) => readRecord(recordFields(entry, index), index));
}

/** Integer labels -> their JSON names; text keys pass through (extensions, "vlo"). */
function recordFields(entry: unknown, index: number): Map<string, unknown> {
  if (!(entry instanceof Map)) throw new CodecError('MALFORMED', 'a record is a map', { field: `record[${index}]` });
  const fields = new Map<string, unknown>();
  for (const [key, value] of entry as Map<unknown, unknown>) {
    if (typeof key === 'number') {
      // Table 4 is conclusive, so other integers are nobody's labels: ignore them (section 4.4).
      const name = LABEL_NAMES.get(key);
      if (name !== undefined) fields.set(name, value);
    } else if (typeof key === 'string') {
      // A text "v" is not the value field: in CBOR those labels are integers.
      if (!(key in LABELS)) fields.set(key, value);
    } else if (typeof key !== 'bigint') {
      throw new CodecError('MALFORMED', 'a record label is an integer or text', { field: `record[${index}]` });
    }
  }
  return fields;
}

/**
 * A cborg tokenizer wrapper. cborg builds nested values by recursion, so without a depth bound
 * a payload of nested arrays would overflow the stack; this stops at DecodeLimits.maxDepth.
 * It also keeps the offset of the item being read, which cborg's messages do not reliably give.
 */
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
      if (this.#open.length > 0) this.#open[this.#open.length - 1]! -= 1;
      const container = Type.equals(token.type, Type.array) ? 1 : Type.equals(token.type, Type.map) ? 2 : 0;
      if (container > 0 && token.value > 0) {
        this.#open.push(token.value * container);
        if (this.#open.length > DecodeLimits.maxDepth) {
          throw new CodecError('LIMIT_EXCEEDED', `nesting deeper than ${DecodeLimits.maxDepth}`, { offset: this.start });
        }
      }
      if (this.#checkUtf8 && token.byteValue !== undefined && Type.equals(token.type, Type.string)) checkUtf8(token.byteValue, this.start);
    }
    while (this.#open.length > 0 && this.#open[this.#open.length - 1] === 0) this.#open.pop();
    return token;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function checkUtf8(bytes: Uint8Array, offset: number): void {
  try {
    strictUtf8.decode(bytes);
  } catch {
    throw new CodecError('MALFORMED', 'text string is not UTF-8', { offset });
  }
}

/**
 * Runs a cborg decode and turns whatever it throws into a CodecError. cborg's own messages are
 * not passed on: some quote map keys from the payload.
 */
export function decodeWithCborg(run: () => unknown, tokenizer: BoundedTokenizer, length: number): unknown {
  try {
    return run();
  } catch (error) {
    if (isCodecError(error)) throw error;
    const message = error instanceof Error ? error.message : '';
    const offset = tokenizer.start;
    if (/repeat map key/.test(message)) throw new CodecError('DUPLICATE', 'a record has the same label twice', { offset });
    if (/too many terminals/.test(message)) throw new CodecError('TRAILING_BYTES', 'bytes after the SenML pack', { offset: tokenizer.pos() });
    if (/indefinite length bytes\/strings/.test(message)) {
      throw new CodecError('UNSUPPORTED', 'indefinite-length strings are not supported', { offset });
    }
    if (/tag not supported/.test(message)) throw new CodecError('UNSUPPORTED', 'CBOR tags are not supported', { offset });
    if (/not enough|did not find any content|unexpected end/.test(message) || tokenizer.done()) {
      throw new CodecError('TRUNCATED', 'input ends inside an item', { offset: length });
    }
    throw new CodecError('MALFORMED', 'not well-formed CBOR', { offset });
  }
}
