import { CodecError } from '../errors.ts';
import type { ResourceTypeLookup } from '../lwm2m/model.ts';
import { formatPath, parsePath, pathSegments, type LwM2MPath } from '../lwm2m/path.ts';
import { builtInResourceTypes } from '../lwm2m/registry.ts';
import { INTEGER_MAX, INTEGER_MIN, UNSIGNED_MAX, type ResourceType, type ResourceValue } from '../lwm2m/value.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { DecodeLimits, type TreeCodec } from './codec.ts';
import { checkDeclaredType } from './single-value.ts';
import { formatObjectLink, parseObjectLink } from './text-plain.ts';
import { flattenTree, selectTreeAtPath, treeFromPathValues, type ContentTree, type PathValue } from './tree.ts';

/**
 * OMA LwM2M JSON (content format 11543, and 1543 before registration), LwM2M Core 6.4.4 "JSON"
 * (TS_Core of LwM2M 1.0/1.1, Table 22 "JSON format and description"):
 *
 *   {"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1}, ...]}
 *
 * bn (Base Name) is "prepended to the Name value of the entry"; n may be absent when bn is the
 * full path ({"bn":"/3/0/0","e":[{"sv":...}]}) and bn may be absent when n is. Each entry holds
 * exactly one value field: v (JSON number: integer, unsigned, float, time), bv (boolean),
 * ov (objlnk "o:i") or sv (string, corelnk, and opaque as Base64). Base Time bt and Time t must
 * be numbers and are otherwise ignored; the same path twice in a time-stamped payload is a
 * history of notifications, which a tree cannot hold: UNSUPPORTED.
 *
 * Numbers are read from their digits (our parser below keeps the lexeme), so 64-bit integers
 * round-trip exactly; an integer resource given a number that is not a whole number, or one
 * outside its range, is refused instead of rounded. The encoder writes bn as the request path
 * and n relative to it, or bn alone at a single value. Unknown resources decode by field: v as
 * integer when written without fraction or exponent (unsigned above 2^63-1), else float; bv
 * boolean; ov objlnk; sv string. Unknown members are ignored, as SenML allows.
 */
export const lwm2mJsonCodec: TreeCodec = {
  encode: encodeLwm2mJson,
  decode: decodeLwm2mJson,
};

const utf8 = new TextEncoder();
const VALUE_FIELDS = ['v', 'bv', 'ov', 'sv'] as const;
type ValueField = (typeof VALUE_FIELDS)[number];

export function encodeLwm2mJson(tree: ContentTree, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): Uint8Array {
  const content = selectTreeAtPath(tree, path);
  const base = formatPath(path);
  const whole = content.level === 'resourceInstance' || (content.level === 'resource' && content.resource.kind === 'single');
  const depth = pathSegments(path).length;
  const entries = flattenTree(tree).map(({ path: valuePath, value }) => {
    const field = formatPath(valuePath);
    checkDeclaredType(value, types(valuePath.objectId!, valuePath.resourceId!), field);
    const name = whole ? '' : `"n":${JSON.stringify(pathSegments(valuePath).slice(depth).join('/'))},`;
    return `{${name}${valueMember(value, field)}}`;
  });
  const bn = whole || base === '/' ? base : `${base}/`;
  return utf8.encode(`{"bn":${JSON.stringify(bn)},"e":[${entries.join(',')}]}`);
}

function valueMember(value: ResourceValue, field: string): string {
  const ranged = (number: bigint, min: bigint, max: bigint): string => {
    if (number < min || number > max) throw new CodecError('OUT_OF_RANGE', `value outside ${min}..${max}`, { field });
    return `"v":${number}`;
  };
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return `"sv":${JSON.stringify(value.value)}`;
    case 'opaque':
      return `"sv":"${encodeBase64(value.value)}"`;
    case 'integer':
    case 'time':
      return ranged(value.value, INTEGER_MIN, INTEGER_MAX);
    case 'unsigned':
      return ranged(value.value, 0n, UNSIGNED_MAX);
    case 'float':
      if (!Number.isFinite(value.value)) throw new CodecError('OUT_OF_RANGE', 'JSON has no NaN or infinities', { field });
      // String() gives the shortest digits that read back to the same double, in JSON syntax.
      return `"v":${String(value.value)}`;
    case 'boolean':
      return `"bv":${String(value.value)}`;
    case 'objlnk':
      return `"ov":"${formatObjectLink(value.value, field)}"`;
  }
}

export function decodeLwm2mJson(bytes: Uint8Array, path: LwM2MPath, types: ResourceTypeLookup = builtInResourceTypes): ContentTree {
  if (bytes.length > DecodeLimits.maxPayloadBytes) {
    throw new CodecError('LIMIT_EXCEEDED', `payload of ${bytes.length} bytes exceeds ${DecodeLimits.maxPayloadBytes}`);
  }
  const root = parseJsonText(bytes);
  if (root.kind !== 'object') throw new CodecError('MALFORMED', 'an LwM2M JSON payload is a JSON object', { offset: root.offset, field: '/' });
  const bn = optional(root.members.get('bn'), 'string', '/bn');
  let timed = optional(root.members.get('bt'), 'number', '/bt') !== undefined;
  const e = root.members.get('e');
  if (e?.kind !== 'array') throw new CodecError('MALFORMED', 'the resource array "e" is missing or not an array', { field: '/e' });
  if (e.items.length > DecodeLimits.maxValues) throw new CodecError('LIMIT_EXCEEDED', `more than ${DecodeLimits.maxValues} entries`, { field: '/e' });

  const records: PathValue[] = e.items.map((entry, index) => {
    const field = `/e/${index}`;
    if (entry.kind !== 'object') throw new CodecError('MALFORMED', 'an entry is a JSON object', { offset: entry.offset, field });
    const n = optional(entry.members.get('n'), 'string', `${field}/n`);
    if (optional(entry.members.get('t'), 'number', `${field}/t`) !== undefined) timed = true;
    const present = VALUE_FIELDS.filter((name) => entry.members.has(name));
    if (present.length !== 1) {
      throw new CodecError('MALFORMED', 'an entry holds exactly one of "v", "bv", "ov", "sv"', { offset: entry.offset, field });
    }
    const recordPath = parsePath(`${bn?.value ?? ''}${n?.value ?? ''}`);
    const segments = pathSegments(recordPath);
    if (segments.length < 3) {
      throw new CodecError('INVALID_PATH', 'an entry must name a resource or resource instance', { offset: entry.offset, field });
    }
    const kind = present[0]!;
    const value = entryValue(kind, entry.members.get(kind)!, types(segments[0]!, segments[2]!), `${field}/${kind}`);
    return { path: recordPath, value };
  });

  if (timed) {
    const seen = new Set<string>();
    for (const record of records) {
      const key = formatPath(record.path);
      if (seen.has(key)) throw new CodecError('UNSUPPORTED', 'historical values (one path at several times) are not supported', { field: key });
      seen.add(key);
    }
  }
  return treeFromPathValues(records, path);
}

function optional<K extends 'string' | 'number'>(node: JsonNode | undefined, kind: K, field: string): Extract<JsonNode, { kind: K }> | undefined {
  if (node === undefined) return undefined;
  if (node.kind !== kind) throw new CodecError('MALFORMED', `must be a JSON ${kind}`, { offset: node.offset, field });
  return node as Extract<JsonNode, { kind: K }>;
}

/** Which value field carries each type (Table 22, and Appendix C for opaque as Base64). */
function fieldFor(type: Exclude<ResourceType, 'none'>): ValueField {
  switch (type) {
    case 'integer':
    case 'unsigned':
    case 'float':
    case 'time':
      return 'v';
    case 'boolean':
      return 'bv';
    case 'objlnk':
      return 'ov';
    default:
      return 'sv';
  }
}

const JSON_KIND: Readonly<Record<ValueField, JsonNode['kind']>> = { v: 'number', bv: 'boolean', ov: 'string', sv: 'string' };

// The LwM2M 1.0/1.1 spec's own Read /65/0 example writes the null link this way.
const HEX_NULL_LINK = 'FFFF:FFFF';

function entryValue(kind: ValueField, node: JsonNode, declared: ResourceType | undefined, field: string): ResourceValue {
  const fail = (code: 'TYPE_MISMATCH' | 'OUT_OF_RANGE', message: string): CodecError => new CodecError(code, message, { offset: node.offset, field });
  if (declared === 'none') throw fail('TYPE_MISMATCH', 'resource is executable and holds no value');
  if (declared !== undefined && fieldFor(declared) !== kind) throw fail('TYPE_MISMATCH', `a ${declared} resource takes "${fieldFor(declared)}"`);
  if (node.kind !== JSON_KIND[kind]) throw fail('TYPE_MISMATCH', `"${kind}" must be a JSON ${JSON_KIND[kind]}`);
  if (node.kind === 'boolean') return { type: 'boolean', value: node.value };
  if (node.kind === 'string') {
    if (kind === 'ov') {
      const link = node.value.toUpperCase() === HEX_NULL_LINK ? { objectId: 0xffff, instanceId: 0xffff } : parseObjectLink(node.value, field);
      return { type: 'objlnk', value: link };
    }
    if (declared === 'opaque') return { type: 'opaque', value: decodeBase64(node.value, field) };
    return { type: declared === 'corelnk' ? 'corelnk' : 'string', value: node.value };
  }
  if (node.kind !== 'number') throw fail('TYPE_MISMATCH', `"${kind}" must be a JSON ${JSON_KIND[kind]}`);
  const ranged = (value: bigint, min: bigint, max: bigint): bigint => {
    if (value < min || value > max) throw fail('OUT_OF_RANGE', `value outside ${min}..${max}`);
    return value;
  };
  switch (declared) {
    case 'integer':
    case 'time':
      return { type: declared, value: ranged(exactInteger(node.text, fail), INTEGER_MIN, INTEGER_MAX) };
    case 'unsigned':
      return { type: declared, value: ranged(exactInteger(node.text, fail), 0n, UNSIGNED_MAX) };
    case undefined:
      if (/^-?[0-9]+$/.test(node.text)) {
        const value = exactInteger(node.text, fail);
        return value > INTEGER_MAX ? { type: 'unsigned', value: ranged(value, 0n, UNSIGNED_MAX) } : { type: 'integer', value: ranged(value, INTEGER_MIN, INTEGER_MAX) };
      }
  }
  const value = Number(node.text);
  if (!Number.isFinite(value)) throw fail('OUT_OF_RANGE', 'number is beyond binary64');
  return { type: 'float', value };
}

/**
 * The exact integer a JSON number denotes, from its digits: "1.5e3" is 1500, "9007199254740993"
 * stays odd. Not a whole number is a TYPE_MISMATCH; more than 20 digits cannot be a 64-bit value.
 */
function exactInteger(text: string, fail: (code: 'TYPE_MISMATCH' | 'OUT_OF_RANGE', message: string) => CodecError): bigint {
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text) ?? [];
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return 0n;
  const shift = Number(exponent) - fraction.length;
  if (shift < 0) {
    if (-shift >= digits.length || !/^0+$/.test(digits.slice(shift))) throw fail('TYPE_MISMATCH', 'expected a whole number');
    digits = digits.slice(0, shift);
  } else if (digits.length + shift <= 20) {
    digits += '0'.repeat(shift);
  } else {
    digits = '';
  }
  // Checked before BigInt so that neither a long digit string nor a huge exponent costs anything.
  if (digits === '' || digits.length > 20) throw fail('OUT_OF_RANGE', 'integer has more digits than 64 bits hold');
  return BigInt(`${sign}${digits}`);
}

// ---- JSON text (RFC 8259) ----

/**
 * A parsed JSON value with the byte offset where it starts. Numbers keep their text, since
 * JSON.parse would round integers beyond 2^53; object members keep their order of arrival.
 */
type JsonNode =
  | { readonly kind: 'null'; readonly offset: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly offset: number }
  | { readonly kind: 'number'; readonly text: string; readonly offset: number }
  | { readonly kind: 'string'; readonly value: string; readonly offset: number }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[]; readonly offset: number }
  | { readonly kind: 'object'; readonly members: ReadonlyMap<string, JsonNode>; readonly offset: number };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** The bytes a number may use: - + . 0-9 e E. */
function isNumberByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2b || byte === 0x2e || byte === 0x65 || byte === 0x45;
}

/** Strict RFC 8259 over the bytes, so offsets are byte offsets; nesting stops at maxDepth. */
function parseJsonText(bytes: Uint8Array): JsonNode {
  let pos = 0;
  const fail = (code: 'MALFORMED' | 'TRUNCATED', message: string, offset = pos): CodecError => new CodecError(code, message, { offset });
  const peek = (): number => {
    while (pos < bytes.length && (bytes[pos] === 0x20 || bytes[pos] === 0x09 || bytes[pos] === 0x0a || bytes[pos] === 0x0d)) pos++;
    if (pos >= bytes.length) throw fail('TRUNCATED', 'JSON text ends early');
    return bytes[pos]!;
  };
  const expect = (byte: number, what: string): void => {
    if (peek() !== byte) throw fail('MALFORMED', `expected ${what}`);
    pos++;
  };

  const string = (): string => {
    let out = '';
    let run = ++pos;
    const flush = (): void => {
      try {
        out += strictUtf8.decode(bytes.subarray(run, pos));
      } catch {
        throw fail('MALFORMED', 'string is not valid UTF-8', run);
      }
    };
    for (;;) {
      if (pos >= bytes.length) throw fail('TRUNCATED', 'string is not closed');
      const byte = bytes[pos]!;
      if (byte === 0x22) {
        flush();
        pos++;
        return out;
      }
      if (byte < 0x20) throw fail('MALFORMED', 'control character in a string');
      if (byte !== 0x5c) {
        pos++;
        continue;
      }
      flush();
      const escape = String.fromCharCode(bytes[pos + 1] ?? 0);
      const hex = String.fromCharCode(...bytes.subarray(pos + 2, pos + 6));
      if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 6;
      } else if (escape !== 'u' && ESCAPES[escape] !== undefined) {
        out += ESCAPES[escape];
        pos += 2;
      } else {
        throw fail(pos + (escape === 'u' ? 6 : 2) > bytes.length ? 'TRUNCATED' : 'MALFORMED', 'invalid escape in a string');
      }
      run = pos;
    }
  };

  const value = (depth: number): JsonNode => {
    const offset = pos;
    const byte = peek();
    if (byte === 0x7b || byte === 0x5b) {
      if (depth >= DecodeLimits.maxDepth) throw new CodecError('LIMIT_EXCEEDED', `JSON nests deeper than ${DecodeLimits.maxDepth}`, { offset });
      pos++;
      const close = byte === 0x7b ? 0x7d : 0x5d;
      const items: JsonNode[] = [];
      const members = new Map<string, JsonNode>();
      if (peek() === close) pos++;
      else {
        for (;;) {
          if (byte === 0x7b) {
            if (peek() !== 0x22) throw fail('MALFORMED', 'expected a member name');
            const keyOffset = pos;
            const key = string();
            if (members.has(key)) throw new CodecError('DUPLICATE', 'member name appears twice in one object', { offset: keyOffset });
            expect(0x3a, '":"');
            members.set(key, value(depth + 1));
          } else {
            if (items.length >= DecodeLimits.maxValues) throw new CodecError('LIMIT_EXCEEDED', `array longer than ${DecodeLimits.maxValues}`, { offset });
            items.push(value(depth + 1));
          }
          const separator = peek();
          pos++;
          if (separator === close) break;
          if (separator !== 0x2c) throw fail('MALFORMED', 'expected "," or the end of the container', pos - 1);
        }
      }
      return byte === 0x7b ? { kind: 'object', members, offset } : { kind: 'array', items, offset };
    }
    if (byte === 0x22) return { kind: 'string', value: string(), offset };
    for (const [word, node] of [['true', { kind: 'boolean', value: true, offset }], ['false', { kind: 'boolean', value: false, offset }], ['null', { kind: 'null', offset }]] as const) {
      if (String.fromCharCode(...bytes.subarray(pos, pos + word.length)) === word) {
        pos += word.length;
        return node;
      }
    }
    let end = pos;
    while (end < bytes.length && isNumberByte(bytes[end]!)) end++;
    const text = strictUtf8.decode(bytes.subarray(pos, end));
    if (end === pos || !NUMBER.test(text)) throw fail('MALFORMED', 'not a JSON value');
    pos = end;
    return { kind: 'number', text, offset };
  };

  const root = value(0);
  while (pos < bytes.length && (bytes[pos] === 0x20 || bytes[pos] === 0x09 || bytes[pos] === 0x0a || bytes[pos] === 0x0d)) pos++;
  if (pos < bytes.length) throw new CodecError('TRAILING_BYTES', 'bytes after the JSON value', { offset: pos });
  return root;
}
