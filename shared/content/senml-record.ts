import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { formatPath, parsePath, pathLevel, pathSegments, type LwM2MPath } from '../lwm2m/path.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ResourceType, type ResourceValue } from '../lwm2m/value.ts';
import { DecodeLimits } from './codec.ts';
import { flattenTree, selectTreeAtPath, treeFromPathValues, type ContentTree, type PathValue } from './tree.ts';

/**
 * The SenML data model (RFC 8428) shared by SenML-JSON and SenML-CBOR, and its LwM2M reading
 * (LwM2M Core 1.1.1 section 7.4.4 SenML CBOR, 7.4.5 SenML JSON): base name and name concatenate
 * to a resource path such as "/3/0/0" or a resource instance path such as "/3/0/6/1"; "v" carries
 * integer, unsigned, time and float, "vs" string and corelnk, "vb" boolean, "vd" opaque, and
 * LwM2M's own "vlo" an object link written "objectId:instanceId".
 *
 * Each format maps its bytes to a label -> value map per record (labels spelled as in JSON,
 * "vd" already bytes); everything from there on is here.
 */
export type SenmlValue =
  | { readonly kind: 'v'; readonly value: number | bigint }
  | { readonly kind: 'vs'; readonly value: string }
  | { readonly kind: 'vb'; readonly value: boolean }
  | { readonly kind: 'vd'; readonly value: Uint8Array }
  | { readonly kind: 'vlo'; readonly value: string };

/** One record as written: base name, name, and at most one value. Time and unit are not kept. */
export interface SenmlRecord {
  readonly bn?: string;
  readonly n?: string;
  readonly value?: SenmlValue;
}

/** A record with its base name applied (RFC 8428 section 4.6). */
export interface ResolvedRecord {
  readonly name: string;
  readonly value: SenmlValue;
}

/** The highest SenML version this code understands (RFC 8428 section 4.4). */
export const SENML_VERSION = 10;

const VALUE_LABELS = ['v', 'vs', 'vb', 'vd', 'vlo'] as const;
const NUMBER_LABELS = ['bt', 'bv', 'bs', 't', 's', 'ut'] as const;
const STRING_LABELS = ['bn', 'bu', 'n', 'u'] as const;
const LONE_SURROGATE = /\p{Cs}/u;

type Fields = ReadonlyMap<string, unknown>;

/**
 * Reads one record. Time, unit and sum fields are checked for type and then ignored: a
 * bootstrap server neither stores history nor converts units.
 */
export function readRecord(fields: Fields, index: number): SenmlRecord {
  const field = (label: string): string => `record[${index}].${label}`;
  for (const label of fields.keys()) {
    // Section 4.4: a label ending in "_" must be understood, and we understand none.
    if (label.endsWith('_')) throw new CodecError('UNSUPPORTED', 'record has a must-understand field', { field: field(label.slice(0, 24)) });
  }
  for (const label of STRING_LABELS) checkString(fields.get(label), field(label));
  for (const label of NUMBER_LABELS) {
    const raw = fields.get(label);
    if (raw !== undefined && typeof raw !== 'number' && typeof raw !== 'bigint') {
      throw new CodecError('MALFORMED', 'field must be a number', { field: field(label) });
    }
  }
  checkVersion(fields.get('bver'), field('bver'));
  const bv = fields.get('bv');
  if (bv !== undefined && bv !== 0 && bv !== 0n) {
    // A base value would be added to every "v"; LwM2M values are exact, so we refuse to guess.
    throw new CodecError('UNSUPPORTED', 'base value (bv) is not used by LwM2M', { field: field('bv') });
  }
  const present = VALUE_LABELS.filter((label) => fields.has(label));
  if (present.length > 1) throw new CodecError('MALFORMED', 'record has more than one value field', { field: field(present[1]!) });
  const bn = fields.get('bn') as string | undefined;
  const n = fields.get('n') as string | undefined;
  const label = present[0];
  const value = label === undefined ? undefined : readValue(label, fields.get(label), field(label));
  if (value === undefined && fields.has('s')) {
    throw new CodecError('UNSUPPORTED', 'record carries only a sum, no value', { field: field('s') });
  }
  return { ...(bn === undefined ? {} : { bn }), ...(n === undefined ? {} : { n }), ...(value === undefined ? {} : { value }) };
}

function checkString(raw: unknown, field: string): void {
  if (raw === undefined) return;
  if (typeof raw !== 'string') throw new CodecError('MALFORMED', 'field must be a string', { field });
  if (LONE_SURROGATE.test(raw)) throw new CodecError('MALFORMED', 'string is not well-formed Unicode', { field });
}

function checkVersion(raw: unknown, field: string): void {
  if (raw === undefined) return;
  const version = typeof raw === 'bigint' ? raw : typeof raw === 'number' && Number.isInteger(raw) ? BigInt(raw) : undefined;
  if (version === undefined || version < 1n) throw new CodecError('MALFORMED', 'version must be a positive integer', { field });
  if (version > BigInt(SENML_VERSION)) throw new CodecError('UNSUPPORTED', `SenML version above ${SENML_VERSION}`, { field });
}

function readValue(label: (typeof VALUE_LABELS)[number], raw: unknown, field: string): SenmlValue {
  switch (label) {
    case 'v':
      if (typeof raw !== 'number' && typeof raw !== 'bigint') throw new CodecError('MALFORMED', 'field must be a number', { field });
      return { kind: 'v', value: raw };
    case 'vb':
      if (typeof raw !== 'boolean') throw new CodecError('MALFORMED', 'field must be true or false', { field });
      return { kind: 'vb', value: raw };
    case 'vd':
      if (!(raw instanceof Uint8Array)) throw new CodecError('MALFORMED', 'field must be binary data', { field });
      return { kind: 'vd', value: raw };
    case 'vs':
    case 'vlo':
      if (typeof raw !== 'string') throw new CodecError('MALFORMED', 'field must be a string', { field });
      checkString(raw, field);
      return { kind: label, value: raw };
  }
}

/**
 * Applies base names: a "bn" holds for its record and every later one until the next "bn".
 * Records with neither name nor value only carry base fields (RFC 8428 section 5.1.7) and
 * vanish; any other record must carry a value.
 */
export function resolveRecords(records: readonly SenmlRecord[]): ResolvedRecord[] {
  if (records.length > DecodeLimits.maxValues) {
    throw new CodecError('LIMIT_EXCEEDED', `more than ${DecodeLimits.maxValues} records`, { field: `record[${DecodeLimits.maxValues}]` });
  }
  const out: ResolvedRecord[] = [];
  let baseName = '';
  records.forEach((record, index) => {
    if (record.bn !== undefined) baseName = record.bn;
    if (record.value === undefined) {
      if (record.n === undefined) return;
      throw new CodecError('MALFORMED', 'record has no value', { field: `record[${index}]` });
    }
    out.push({ name: baseName + (record.n ?? ''), value: record.value });
  });
  return out;
}

/** Resolved records -> values under `requestPath`, typed by the object model where it knows the resource. */
export function pathValuesFromRecords(records: readonly ResolvedRecord[], types: ResourceTypeLookup): PathValue[] {
  return records.map(({ name, value }) => {
    const field = name.slice(0, 64);
    // parsePath forgives a missing leading or extra trailing slash; a SenML name may not.
    if (!name.startsWith('/') || name.endsWith('/')) {
      throw new CodecError('INVALID_PATH', 'name must be an LwM2M path like /3/0/0', { field });
    }
    const path = parsePath(name);
    const level = pathLevel(path);
    if (level !== 'resource' && level !== 'resourceInstance') {
      throw new CodecError('INVALID_PATH', 'a record must name a resource or resource instance', { field });
    }
    return { path, value: resourceValue(value, types(path.objectId!, path.resourceId!), formatPath(path)) };
  });
}

/** The whole decode after the bytes: records -> tree under `requestPath`. */
export function treeFromRecords(records: readonly SenmlRecord[], requestPath: LwM2MPath, types: ResourceTypeLookup): ContentTree {
  return treeFromPathValues(pathValuesFromRecords(resolveRecords(records), types), requestPath);
}

function resourceValue(value: SenmlValue, declared: ResourceType | undefined, field: string): ResourceValue {
  if (declared === 'none') throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { field });
  const mismatch = (): CodecError =>
    new CodecError('TYPE_MISMATCH', `"${value.kind}" cannot carry a value of a ${declared} resource`, { field });
  switch (value.kind) {
    case 'vs':
      if (declared === 'corelnk') return { type: 'corelnk', value: value.value };
      if (declared === undefined || declared === 'string') return { type: 'string', value: value.value };
      throw mismatch();
    case 'vb':
      if (declared !== undefined && declared !== 'boolean') throw mismatch();
      return { type: 'boolean', value: value.value };
    case 'vd':
      if (declared !== undefined && declared !== 'opaque') throw mismatch();
      return { type: 'opaque', value: value.value };
    case 'vlo':
      if (declared !== undefined && declared !== 'objlnk') throw mismatch();
      return objectLink(value.value, field);
    case 'v':
      if (declared === 'float') return { type: 'float', value: finiteFloat(value.value, field) };
      if (declared === 'integer' || declared === 'unsigned' || declared === 'time') {
        return { type: declared, value: exactInteger(value.value, declared, field) };
      }
      if (declared !== undefined) throw mismatch();
      return genericNumber(value.value, field);
  }
}

function finiteFloat(raw: number | bigint, field: string): number {
  const value = Number(raw);
  // Only a bigint can turn infinite here; a CBOR float may be infinite on purpose.
  if (typeof raw === 'bigint' && !Number.isFinite(value)) throw new CodecError('OUT_OF_RANGE', 'number beyond the float range', { field });
  return value;
}

/**
 * A number the model does not type: integral -> integer (or unsigned above the integer range),
 * otherwise float. Floats beyond 2^53 are floats: their digits may already be rounded.
 */
function genericNumber(raw: number | bigint, field: string): ResourceValue {
  if (typeof raw === 'number') {
    return Number.isSafeInteger(raw) ? { type: 'integer', value: BigInt(raw) } : { type: 'float', value: raw };
  }
  if (raw >= INTEGER_MIN && raw <= INTEGER_MAX) return { type: 'integer', value: raw };
  if (raw > INTEGER_MAX && raw <= UNSIGNED_MAX) return { type: 'unsigned', value: raw };
  throw new CodecError('OUT_OF_RANGE', 'integer outside the 64-bit range', { field });
}

function exactInteger(raw: number | bigint, type: 'integer' | 'unsigned' | 'time', field: string): bigint {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new CodecError('TYPE_MISMATCH', `${type} resource given a fractional number`, { field });
    // Above 2^53 a float (or a JSON number with fraction or exponent) may have lost digits.
    if (!Number.isSafeInteger(raw)) {
      throw new CodecError('OUT_OF_RANGE', 'integers beyond 2^53 must be written as plain integers', { field });
    }
  }
  const value = BigInt(raw);
  const [min, max] = type === 'unsigned' ? [0n, UNSIGNED_MAX] : [INTEGER_MIN, INTEGER_MAX];
  if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `${type} value outside ${min}..${max}`, { field });
  return value;
}

function objectLink(text: string, field: string): ResourceValue {
  const match = /^(0|[1-9][0-9]{0,4}):(0|[1-9][0-9]{0,4})$/.exec(text);
  if (match === null) throw new CodecError('MALFORMED', 'object link must be "objectId:instanceId"', { field });
  const objectId = Number(match[1]);
  const instanceId = Number(match[2]);
  if (objectId > 65535 || instanceId > 65535) throw new CodecError('OUT_OF_RANGE', 'object link ids are 0..65535', { field });
  return { type: 'objlnk', value: { objectId, instanceId } };
}

/**
 * Tree -> records, in tree order, with a base name that shortens them the way the LwM2M
 * examples do: `/3/0` gives bn "/3/0/" on the first record and names "0", "6/0", ...; a single
 * value at exactly the request path gives just bn "/3/0/0"; at the root every name is absolute.
 */
export function recordsFromTree(tree: ContentTree, requestPath: LwM2MPath, types: ResourceTypeLookup): SenmlRecord[] {
  selectTreeAtPath(tree, requestPath); // throws unless the tree lies wholly under the request path
  const values = flattenTree(tree);
  const prefix = formatPath(requestPath);
  const whole = values.length === 1 && formatPath(values[0]!.path) === prefix;
  const base = pathSegments(requestPath).length === 0 || whole ? undefined : `${prefix}/`;
  return values.map(({ path, value }, index) => {
    const name = formatPath(path);
    const senml = senmlValue(value, types(path.objectId!, path.resourceId!), name);
    if (whole) return { bn: name, value: senml };
    if (base === undefined) return { n: name, value: senml };
    return { ...(index === 0 ? { bn: base } : {}), n: name.slice(base.length), value: senml };
  });
}

function senmlValue(value: ResourceValue, declared: ResourceType | undefined, field: string): SenmlValue {
  if (declared === 'none') throw new CodecError('TYPE_MISMATCH', 'resource is executable and holds no value', { field });
  const kind = valueKind(value.type);
  if (declared !== undefined && valueKind(declared) !== kind) {
    throw new CodecError('TYPE_MISMATCH', `a ${value.type} value cannot be written to a ${declared} resource`, { field });
  }
  switch (value.type) {
    case 'integer':
    case 'time':
    case 'unsigned': {
      const [min, max] = value.type === 'unsigned' ? [0n, UNSIGNED_MAX] : [INTEGER_MIN, INTEGER_MAX];
      if (value.value < min || value.value > max) throw new CodecError('OUT_OF_RANGE', `${value.type} value outside ${min}..${max}`, { field });
      return { kind: 'v', value: value.value };
    }
    case 'float':
      return { kind: 'v', value: value.value };
    case 'boolean':
      return { kind: 'vb', value: value.value };
    case 'opaque':
      return { kind: 'vd', value: value.value };
    case 'objlnk': {
      const { objectId, instanceId } = value.value;
      const valid = (id: number): boolean => Number.isInteger(id) && id >= 0 && id <= 65535;
      if (!valid(objectId) || !valid(instanceId)) throw new CodecError('OUT_OF_RANGE', 'object link ids are 0..65535', { field });
      return { kind: 'vlo', value: `${objectId}:${instanceId}` };
    }
    case 'string':
    case 'corelnk':
      // CBOR text must be UTF-8, and JSON would need \u escapes no reader expects.
      if (LONE_SURROGATE.test(value.value)) throw new CodecError('MALFORMED', 'string is not well-formed Unicode', { field });
      return { kind: 'vs', value: value.value };
  }
}

function valueKind(type: Exclude<ResourceType, 'none'>): SenmlValue['kind'] {
  switch (type) {
    case 'integer':
    case 'unsigned':
    case 'time':
    case 'float':
      return 'v';
    case 'string':
    case 'corelnk':
      return 'vs';
    case 'boolean':
      return 'vb';
    case 'opaque':
      return 'vd';
    case 'objlnk':
      return 'vlo';
  }
}
