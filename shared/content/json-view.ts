import { z } from 'zod';
import { CodecError } from '../errors.ts';
import { formatPath, parsePath, pathSegments, type LwM2MPath } from '../lwm2m/path.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import type { ResourceValue, ValueType } from '../lwm2m/value.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX } from '../lwm2m/value.ts';
import { flattenTree, treeFromPathValues, type ContentTree, type PathValue } from './tree.ts';

/**
 * The operator-facing JSON view of LwM2M content (CLI, admin API): one key per resource or
 * resource instance path, e.g. `{ "/0/1/0": "coaps://...", "/0/1/5": { "opaque": "0001..." } }`.
 * A value is bare when the object model (or, for unknown resources, JSON's own type) says what
 * it is, and tagged `{ "<type>": value }` otherwise, so the view reads back to the same tree.
 */
export type JsonViewValue = string | number | boolean | { readonly [type: string]: string | number | boolean };
export type JsonView = Record<string, JsonViewValue>;

const TAGS = ['string', 'integer', 'unsigned', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'] as const;

const taggedValue = z
  .object({
    string: z.string(),
    integer: z.union([z.number().int(), z.string().regex(/^-?[0-9]{1,19}$/)]),
    unsigned: z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)]),
    float: z.number(),
    boolean: z.boolean(),
    opaque: z.string().regex(/^([0-9a-fA-F]{2})*$/, 'opaque values are hex, two digits a byte'),
    time: z.union([z.number().int(), z.string().regex(/^-?[0-9]{1,19}$/)]),
    objlnk: z.string().regex(/^[0-9]{1,5}:[0-9]{1,5}$/, 'object links are "objectId:instanceId"'),
    corelnk: z.string(),
  })
  .partial()
  .strict()
  .refine((tagged) => Object.keys(tagged).length === 1, 'a tagged value has exactly one type key');

const jsonViewValue = z.union([z.string(), z.number(), z.boolean(), taggedValue]);
export const jsonViewSchema = z.record(z.string(), jsonViewValue);

/** Tree -> JSON view, keys absolute paths in tree order. */
export function treeToJsonView(tree: ContentTree, types: ResourceTypeLookup = builtInResourceTypes): JsonView {
  const view: JsonView = {};
  for (const { path, value } of flattenTree(tree)) {
    const declared = types(path.objectId!, path.resourceId!);
    view[formatPath(path)] = viewValue(value, declared === value.type || (declared === undefined && inferredType(value) === value.type));
  }
  return view;
}

function inferredType(value: ResourceValue): ValueType | undefined {
  switch (value.type) {
    case 'string':
    case 'boolean':
    case 'integer':
      return value.type;
    case 'float':
      return Number.isInteger(value.value) ? 'integer' : 'float';
    default:
      return undefined;
  }
}

function viewValue(value: ResourceValue, bare: boolean): JsonViewValue {
  const plain = plainValue(value);
  return bare ? plain : { [value.type]: plain };
}

function plainValue(value: ResourceValue): string | number | boolean {
  switch (value.type) {
    case 'opaque':
      return Array.from(value.value, (byte) => byte.toString(16).padStart(2, '0')).join('');
    case 'objlnk':
      return `${value.value.objectId}:${value.value.instanceId}`;
    case 'integer':
    case 'unsigned':
    case 'time':
      // Beyond 2^53 a JSON number would round: such values print as decimal strings.
      return Number.isSafeInteger(Number(value.value)) ? Number(value.value) : value.value.toString();
    default:
      return value.value;
  }
}

/**
 * JSON view -> tree. Keys are absolute paths, or relative to `base` (`"0"` under `/0/1` is
 * `/0/1/0`). Every error names the key it is about.
 */
export function treeFromJsonView(input: unknown, base: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  const parsed = jsonViewSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [key, ...inner] = (issue?.path ?? []).map(String);
    const field = key === undefined ? '(document)' : [key, ...inner].join('.');
    throw new CodecError('MALFORMED', issue?.message ?? 'not a JSON view', { field });
  }
  const records: PathValue[] = Object.entries(parsed.data).map(([key, raw]) => {
    const path = key.startsWith('/') ? parsePath(key) : parsePath(`${formatPath(base)}/${key}`);
    const segments = pathSegments(path);
    if (segments.length < 3) throw new CodecError('INVALID_PATH', 'a key must name a resource or resource instance', { field: key });
    return { path, value: resourceValue(raw, types(segments[0]!, segments[2]!), key) };
  });
  return treeFromPathValues(records, base);
}

function resourceValue(raw: z.infer<typeof jsonViewValue>, declared: ValueType | 'none' | undefined, key: string): ResourceValue {
  if (declared === 'none') throw new CodecError('TYPE_MISMATCH', 'executable resources hold no value', { field: key });
  if (typeof raw === 'object') {
    const type = TAGS.find((tag) => tag in raw)!;
    return typedValue(type, raw[type]!, key);
  }
  const type: ValueType =
    declared ?? (typeof raw === 'string' ? 'string' : typeof raw === 'boolean' ? 'boolean' : Number.isInteger(raw) ? 'integer' : 'float');
  return typedValue(type, raw, key);
}

function typedValue(type: ValueType, raw: string | number | boolean, key: string): ResourceValue {
  const mismatch = (expected: string): CodecError =>
    new CodecError('TYPE_MISMATCH', `expected ${expected} for a ${type} resource, got ${typeof raw}`, { field: key });
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof raw !== 'string') throw mismatch('a string');
      return { type, value: raw };
    case 'boolean':
      if (typeof raw !== 'boolean') throw mismatch('true or false');
      return { type, value: raw };
    case 'float':
      if (typeof raw !== 'number') throw mismatch('a number');
      return { type, value: raw };
    case 'opaque':
      if (typeof raw !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(raw)) throw mismatch('hex digits');
      return { type, value: Uint8Array.from(raw.match(/../g) ?? [], (pair) => parseInt(pair, 16)) };
    case 'objlnk': {
      const match = typeof raw === 'string' ? /^([0-9]{1,5}):([0-9]{1,5})$/.exec(raw) : null;
      if (match === null) throw mismatch('"objectId:instanceId"');
      const objectId = Number(match[1]);
      const instanceId = Number(match[2]);
      if (objectId > 65535 || instanceId > 65535) throw new CodecError('OUT_OF_RANGE', 'object link ids are 0..65535', { field: key });
      return { type, value: { objectId, instanceId } };
    }
    case 'integer':
    case 'unsigned':
    case 'time': {
      if ((typeof raw !== 'number' || !Number.isInteger(raw)) && (typeof raw !== 'string' || !/^-?[0-9]{1,20}$/.test(raw))) {
        throw mismatch('an integer');
      }
      if (typeof raw === 'number' && !Number.isSafeInteger(raw)) {
        throw new CodecError('OUT_OF_RANGE', 'integers beyond 2^53 lose digits in JSON numbers: write them as a decimal string', { field: key });
      }
      const value = BigInt(raw);
      const [min, max] = type === 'unsigned' ? [0n, UNSIGNED_MAX] : [INTEGER_MIN, INTEGER_MAX];
      if (value < min || value > max) throw new CodecError('OUT_OF_RANGE', `${type} value outside ${min}..${max}`, { field: key });
      return { type, value };
    }
  }
}
