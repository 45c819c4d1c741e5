import { decode as decodeJsonTokens, Tokenizer as JsonTokenizer } from 'cborg/json';
import type { DecodeOptions } from 'cborg';
import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import type { LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { decodeBase64Url, encodeBase64Url } from './base64.ts';
import { BoundedTokenizer, decodeWithCborg } from './cbor-decode.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { readRecord, recordsFromTree, treeFromRecords, type SenmlRecord, type SenmlValue } from './senml-record.ts';
import type { ContentTree } from './tree.ts';

/**
 * SenML-JSON, content format 110 (RFC 8428 section 5; LwM2M Core 1.1.1 section 7.4.5): an array
 * of objects with the labels "bn", "n", "v", "vs", "vb", "vd", LwM2M's "vlo", and so on; "vd"
 * is base64url without padding. Values are typed from the object model as senml-record.ts
 * describes.
 *
 * 64-bit integers: JSON.parse would round any integer beyond 2^53, and Node 20's JSON.parse
 * cannot show a reviver the source text. So JSON.parse only checks the grammar (RFC 8259,
 * strictly), and cborg's JSON reader, which returns integers written without fraction or
 * exponent as bigint when they are beyond 2^53, produces the values. A number written with a
 * fraction or exponent is a float; senml-record.ts refuses one beyond 2^53 for an integer
 * resource (OUT_OF_RANGE) instead of rounding it.
 */
const DECODE_OPTIONS: DecodeOptions = { allowBigInt: true, useMaps: true, rejectDuplicateMapKeys: true };

// ignoreBOM keeps a leading U+FEFF in the text, so JSON.parse rejects it as RFC 8259 allows.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

export function encodeSenmlJson(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  return utf8.encode(formatSenmlJson(recordsFromTree(tree, path, types)));
}

export function decodeSenmlJson(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  return treeFromRecords(parseSenmlJson(bytes), path, types);
}

export const senmlJsonCodec: TreeCodec = { encode: encodeSenmlJson, decode: decodeSenmlJson };

/** Records -> compact JSON text, labels in the order bn, n, value. */
export function formatSenmlJson(records: readonly SenmlRecord[]): string {
  let baseName = '';
  const objects = records.map((record) => {
    const members: string[] = [];
    if (record.bn !== undefined) members.push(`"bn":${JSON.stringify((baseName = record.bn))}`);
    if (record.n !== undefined) members.push(`"n":${JSON.stringify(record.n)}`);
    if (record.value !== undefined) members.push(`"${record.value.kind}":${valueText(record.value, baseName + (record.n ?? ''))}`);
    return `{${members.join(',')}}`;
  });
  return `[${objects.join(',')}]`;
}

/** `name` (base name and name) is for error messages. */
function valueText(value: SenmlValue, name: string): string {
  switch (value.kind) {
    case 'v':
      if (typeof value.value === 'bigint') return value.value.toString();
      if (!Number.isFinite(value.value)) throw new CodecError('OUT_OF_RANGE', 'JSON has no NaN or Infinity', { field: name });
      // Shortest text that reads back to the same double, exponent in lower case as section 5 asks.
      return JSON.stringify(value.value);
    case 'vd':
      return `"${encodeBase64Url(value.value)}"`;
    case 'vb':
      return value.value ? 'true' : 'false';
    case 'vs':
    case 'vlo':
      return JSON.stringify(value.value);
  }
}

/** Bytes -> records, base names not yet applied. Every failure is a CodecError. */
export function parseSenmlJson(bytes: Uint8Array): SenmlRecord[] {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`, {
      offset: DecodeLimits.maxPayloadBytes,
    });
  }
  checkGrammar(bytes);
  const tokenizer = new BoundedTokenizer(new JsonTokenizer(bytes, DECODE_OPTIONS), false);
  const pack = decodeWithCborg(() => decodeJsonTokens(bytes, { ...DECODE_OPTIONS, tokenizer }), tokenizer, bytes.length);
  if (!Array.isArray(pack)) throw new CodecError('MALFORMED', 'a SenML pack is an array of records', { offset: 0 });
  return pack.map((entry: unknown, index) => readRecord(recordFields(entry, index), index));
}

/** JSON.parse as a validator: strict RFC 8259 grammar, which cborg's reader is not. */
function checkGrammar(bytes: Uint8Array): void {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new CodecError('MALFORMED', 'SenML-JSON must be UTF-8', { field: 'payload' });
  }
  try {
    JSON.parse(text);
  } catch (error) {
    // V8's messages quote the payload, so only the position is taken from them; not every
    // message has one.
    const message = error instanceof Error ? error.message : '';
    const position = /position (\d+)/.exec(message);
    if (position === null) {
      if (/end of JSON input/.test(message)) throw new CodecError('TRUNCATED', 'JSON text ends early', { offset: bytes.length });
      throw new CodecError('MALFORMED', 'not valid JSON', { field: 'payload' });
    }
    const at = Number(position[1]);
    const offset = utf8.encode(text.slice(0, at)).length;
    if (at >= text.length) throw new CodecError('TRUNCATED', 'JSON text ends early', { offset });
    throw new CodecError('MALFORMED', 'not valid JSON', { offset });
  }
}

function recordFields(entry: unknown, index: number): Map<string, unknown> {
  if (!(entry instanceof Map)) throw new CodecError('MALFORMED', 'a record is a JSON object', { field: `record[${index}]` });
  const fields = new Map<string, unknown>(entry as Map<string, unknown>);
  for (const [label, value] of fields) {
    // Only a number too large for a double turns infinite in JSON.
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new CodecError('OUT_OF_RANGE', 'number beyond the float range', { field: `record[${index}].${label.slice(0, 24)}` });
    }
  }
  const data = fields.get('vd');
  if (data !== undefined) {
    if (typeof data !== 'string') throw new CodecError('MALFORMED', 'field must be a base64url string', { field: `record[${index}].vd` });
    fields.set('vd', decodeBase64Url(data, `record[${index}].vd`));
  }
  return fields;
}
