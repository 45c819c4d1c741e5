import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import type { LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { decodeCbor } from './cbor-decode.ts';
import { CborWriter } from './cbor-encode.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { readRecord, recordsFromTree, treeFromRecords, type SenmlRecord, type SenmlValue } from './senml-record.ts';
import type { ContentTree } from './tree.ts';

/**
 * SenML-CBOR, content format 112 (RFC 8428 section 6; LwM2M Core 1.1.1 section 7.4.4): an
 * array of maps keyed by the integer labels of RFC 8428 Table 4, plus LwM2M's text key "vlo".
 * "vd" is a byte string. Values are typed from the object model as senml-record.ts describes.
 *
 * Decoding goes through cbor-decode.ts (so indefinite-length strings and tags, among them tag 4
 * decimal fractions, are UNSUPPORTED). The encoder writes every float as a float64, since
 * constrained clients may not decode half floats, and keeps bn, n, value in that order, as the
 * LwM2M examples show, rather than sorting the map by key bytes.
 */
const LABELS = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 } as const;
const LABEL_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(LABELS).map(([name, label]) => [label, name]));

export function encodeSenmlCbor(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  return formatSenmlCbor(recordsFromTree(tree, path, types));
}

export function decodeSenmlCbor(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  return treeFromRecords(parseSenmlCbor(bytes), path, types);
}

export const senmlCborCodec: TreeCodec = { encode: encodeSenmlCbor, decode: decodeSenmlCbor };

/** Records -> bytes. */
export function formatSenmlCbor(records: readonly SenmlRecord[]): Uint8Array {
  const out = new CborWriter().array(records.length);
  let baseName = '';
  for (const record of records) {
    if (record.bn !== undefined) baseName = record.bn;
    const field = baseName + (record.n ?? '');
    out.map([record.bn, record.n, record.value].filter((member) => member !== undefined).length);
    if (record.bn !== undefined) label(out, 'bn').text(record.bn);
    if (record.n !== undefined) label(out, 'n').text(record.n);
    if (record.value !== undefined) writeValue(out, record.value, field);
  }
  return out.finish();
}

const label = (out: CborWriter, name: keyof typeof LABELS): CborWriter => out.integer(BigInt(LABELS[name]), name);

/** `field` (base name and name) is for error messages. */
function writeValue(out: CborWriter, value: SenmlValue, field: string): void {
  if (value.kind === 'vlo') out.text('vlo');
  else label(out, value.kind);
  switch (value.kind) {
    case 'v':
      if (typeof value.value === 'bigint') out.integer(value.value, field);
      else out.float64(value.value);
      return;
    case 'vs':
    case 'vlo':
      out.text(value.value);
      return;
    case 'vb':
      out.boolean(value.value);
      return;
    case 'vd':
      out.bytes(value.value);
      return;
  }
}

/** Bytes -> records, base names not yet applied. Every failure is a CodecError. */
export function parseSenmlCbor(bytes: Uint8Array): SenmlRecord[] {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`, {
      offset: DecodeLimits.maxPayloadBytes,
    });
  }
  const pack = decodeCbor(bytes);
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
