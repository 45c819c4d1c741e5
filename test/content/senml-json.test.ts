import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64Url, encodeBase64Url } from '../../shared/content/base64.ts';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { decodeSenmlJson, encodeSenmlJson, parseSenmlJson, senmlJsonCodec } from '../../shared/content/senml-json.ts';
import { resolveRecords, type ResolvedRecord } from '../../shared/content/senml-record.ts';
import type { ContentTree, ResourceNode } from '../../shared/content/tree.ts';
import type { ResourceTypeLookup } from '../../shared/lwm2m/model.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import type { ResourceValue } from '../../shared/lwm2m/value.ts';
import { booleanValue, corelnkValue, floatValue, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, timeValue, UNSIGNED_MAX, unsignedValue } from '../../shared/lwm2m/value.ts';
import { objectTreeArbitrary } from '../fixtures/arbitraries.ts';
import { assertLocatedCodecError, assertOnlyCodecErrors, mutatedBytes } from '../fixtures/codec-assertions.ts';
import { DEVICE_EXAMPLE } from '../fixtures/device-example.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH, PINNED_SERVER, PINNED_SERVER_PATH } from '../fixtures/pinned-instances.ts';
import { assertEveryTypeRoundTrips, typesOf } from '../fixtures/test-objects.ts';
import { instanceTree, multiple, single } from '../fixtures/trees.ts';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
/** JSON written one record a line, as the specifications print it; the encoder writes it compact. */
const compact = (lines: string): string => lines.replace(/\n\s*/g, '');

const tree = instanceTree;

const decodeAt = (json: string, path: LwM2MPath, types?: ResourceTypeLookup): ContentTree =>
  decodeSenmlJson(utf8(json), path, types);


describe('SenML-JSON: pinned instances, JSON written by hand', () => {
  // /0/1: bn "/0/1/" on the first record, names relative to it, in resource order.
  // vd is base64url without padding (RFC 8428 section 4.3): "urn:imei:490154203237518" is
  // 24 bytes -> 32 characters ("urn" = 75 72 6e -> 011101 010111 001001 101110 = "dXJu" ...);
  // the key 00 01 .. 0f is 16 bytes -> 22 characters.
  const security = compact(`[{"bn":"/0/1/","n":"0","vs":"coaps://dm.example.com:5684"},
    {"n":"1","vb":false},
    {"n":"2","v":0},
    {"n":"3","vd":"dXJuOmltZWk6NDkwMTU0MjAzMjM3NTE4"},
    {"n":"5","vd":"AAECAwQFBgcICQoLDA0ODw"},
    {"n":"10","v":101},
    {"n":"11","v":0},
    {"n":"12","v":0}]`);
  const server = '[{"bn":"/1/0/","n":"0","v":101},{"n":"1","v":300},{"n":"7","vs":"U"}]';

  it('encodes Security /0/1', () => {
    assert.equal(text(encodeSenmlJson(PINNED_SECURITY, PINNED_SECURITY_PATH)), security);
  });
  it('decodes Security /0/1', () => {
    assert.deepStrictEqual(decodeAt(security, PINNED_SECURITY_PATH), PINNED_SECURITY);
  });
  it('encodes and decodes Server /1/0', () => {
    assert.equal(text(senmlJsonCodec.encode(PINNED_SERVER, PINNED_SERVER_PATH)), server);
    assert.deepStrictEqual(senmlJsonCodec.decode(utf8(server), PINNED_SERVER_PATH), PINNED_SERVER);
  });
});

describe('SenML-JSON: LwM2M Core 1.1.1 section 7.4.5, Read /3/0 of the example client', () => {
  // The payload as the specification prints it, one record a line.
  const spec = `[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
    {"n":"1","vs":"Lightweight M2M Client"},
    {"n":"2","vs":"345000123"},
    {"n":"3","vs":"1.0"},
    {"n":"6/0","v":1},
    {"n":"6/1","v":5},
    {"n":"7/0","v":3800},
    {"n":"7/1","v":5000},
    {"n":"8/0","v":125},
    {"n":"8/1","v":900},
    {"n":"9","v":100},
    {"n":"10","v":15},
    {"n":"11/0","v":0},
    {"n":"13","v":1367491215},
    {"n":"14","vs":"+02:00"},
    {"n":"16","vs":"U"}]`;
  // Types from the Device object (Core Appendix E.4): 6, 7, 8, 11 multiple integers, 13 time.
  const device = DEVICE_EXAMPLE;

  it('decodes the printed payload', () => {
    assert.deepStrictEqual(decodeAt(spec, { objectId: 3, instanceId: 0 }), device);
  });
  it('encodes the same records, compact', () => {
    assert.equal(text(encodeSenmlJson(device, { objectId: 3, instanceId: 0 })), compact(spec));
  });
  it('a single resource at its own path is one record with only a base name', () => {
    const one = tree(3, 0, [single(0, stringValue('Open Mobile Alliance'))]);
    const json = '[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]';
    assert.equal(text(encodeSenmlJson(one, { objectId: 3, instanceId: 0, resourceId: 0 })), json);
    assert.deepStrictEqual(decodeAt(json, { objectId: 3, instanceId: 0, resourceId: 0 }), one);
  });
});

describe('SenML-JSON: RFC 8428 examples through the generic record reader', () => {
  const resolve = (json: string): ResolvedRecord[] => resolveRecords(parseSenmlJson(utf8(json)));
  const v = (value: number | bigint) => ({ kind: 'v', value }) as const;

  it('section 5.1.1, a single data point', () => {
    assert.deepStrictEqual(resolve('[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]'), [
      { name: 'urn:dev:ow:10e2073a01080063', value: v(23.1) },
    ]);
  });
  it('section 5.1.2, multiple data points with base name, base time, base unit and version 5', () => {
    const json = `[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
      "bu":"A","bver":5,
      "n":"voltage","u":"V","v":120.1},
      {"n":"current","t":-5,"v":1.2},
      {"n":"current","t":-4,"v":1.3},
      {"n":"current","t":-3,"v":1.4},
      {"n":"current","t":-2,"v":1.5},
      {"n":"current","t":-1,"v":1.6},
      {"n":"current","v":1.7}]`;
    const base = 'urn:dev:ow:10e2073a0108006:';
    assert.deepStrictEqual(resolve(json), [
      { name: `${base}voltage`, value: v(120.1) },
      ...[1.2, 1.3, 1.4, 1.5, 1.6, 1.7].map((value) => ({ name: `${base}current`, value: v(value) })),
    ]);
  });
  it('section 5.1.3, records without names take the base name', () => {
    const json = `[{"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,"bu":"%RH","v":20},
      {"u":"lon","v":24.30621},{"u":"lat","v":60.07965},{"t":60,"v":20.3},
      {"u":"%EL","t":150,"v":98}]`;
    const records = resolve(json);
    assert.ok(records.every((record) => record.name === 'urn:dev:ow:10e2073a01080063'));
    assert.deepStrictEqual(records.map((record) => record.value), [v(20), v(24.30621), v(60.07965), v(20.3), v(98)]);
  });
  it('section 5.1.5, multiple data types; "aGkgCg" is the bytes of "hi \\n"', () => {
    const json = `[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
      {"n":"label","vs":"Machine Room"},
      {"n":"open","vb":false},
      {"n":"nfv-reader","vd":"aGkgCg"}]`;
    const base = 'urn:dev:ow:10e2073a01080063:';
    assert.deepStrictEqual(resolve(json), [
      { name: `${base}temp`, value: v(23.1) },
      { name: `${base}label`, value: { kind: 'vs', value: 'Machine Room' } },
      { name: `${base}open`, value: { kind: 'vb', value: false } },
      { name: `${base}nfv-reader`, value: { kind: 'vd', value: Uint8Array.of(0x68, 0x69, 0x20, 0x0a) } },
    ]);
  });
  it('section 5.1.6, a second base name replaces the first from its record on', () => {
    const json = `[{"bn":"2001:db8::2/","bt":1.320078429e+09,"n":"temperature","u":"Cel","v":25.2},
      {"n":"humidity","u":"%RH","v":30},
      {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
      {"n":"humidity","u":"%RH","v":67}]`;
    assert.deepStrictEqual(
      resolve(json).map((record) => record.name),
      ['2001:db8::2/temperature', '2001:db8::2/humidity', '2001:db8::1/temperature', '2001:db8::1/humidity'],
    );
  });
  it('section 5.1.7, a record holding only a base name carries no measurement', () => {
    const json = `[{"bn":"urn:dev:ow:10e2073a01080063:"},
      {"n":"temp","u":"Cel","v":23.1},{"n":"heat","u":"/","v":1},{"n":"fan","u":"/","v":0}]`;
    const base = 'urn:dev:ow:10e2073a01080063:';
    assert.deepStrictEqual(resolve(json), [
      { name: `${base}temp`, value: v(23.1) },
      { name: `${base}heat`, value: v(1) },
      { name: `${base}fan`, value: v(0) },
    ]);
  });
  it('these names are not LwM2M paths', () => {
    assertLocatedCodecError(() => decodeAt('[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]', {}), 'INVALID_PATH');
  });
});

describe('SenML-JSON: names', () => {
  const expected = tree(1, 0, [single(0, integerValue(101)), single(1, integerValue(300))]);
  const path = { objectId: 1, instanceId: 0 };
  for (const [label, json] of [
    ['base name on the first record only', '[{"bn":"/1/0/","n":"0","v":101},{"n":"1","v":300}]'],
    ['base name repeated on every record', '[{"bn":"/1/0/","n":"0","v":101},{"bn":"/1/0/","n":"1","v":300}]'],
    ['absolute names, no base name', '[{"n":"/1/0/0","v":101},{"n":"/1/0/1","v":300}]'],
    ['full path as base name, empty or missing name', '[{"bn":"/1/0/0","n":"","v":101},{"bn":"/1/0/1","v":300}]'],
    ['base name "/" and the rest in the name', '[{"bn":"/","n":"1/0/0","v":101},{"n":"1/0/1","v":300}]'],
    ['a base-only record first, times, units and unknown fields', '[{"bn":"/1/0/","bt":1.5e9},{"n":"0","t":-5,"u":"s","v":101,"x":[1]},{"n":"1","v":300}]'],
    ['records in any order', '[{"n":"/1/0/1","v":300},{"n":"/1/0/0","v":101}]'],
  ] as const) {
    it(label, () => assert.deepStrictEqual(decodeAt(json, path), expected));
  }
  it('encodes absolute names at the root, relative ones below', () => {
    assert.equal(text(encodeSenmlJson(expected, {})), '[{"n":"/1/0/0","v":101},{"n":"/1/0/1","v":300}]');
    assert.equal(text(encodeSenmlJson(expected, { objectId: 1 })), '[{"bn":"/1/","n":"0/0","v":101},{"n":"0/1","v":300}]');
  });
  it('a multiple resource and one of its instances', () => {
    const suites = tree(0, 1, [multiple(16, [[0, unsignedValue(49195)], [1, unsignedValue(168)]])]);
    const resourcePath = { objectId: 0, instanceId: 1, resourceId: 16 };
    const json = '[{"bn":"/0/1/16/","n":"0","v":49195},{"n":"1","v":168}]';
    assert.equal(text(encodeSenmlJson(suites, resourcePath)), json);
    assert.deepStrictEqual(decodeAt(json, resourcePath), suites);
    const one = tree(0, 1, [multiple(16, [[1, unsignedValue(168)]])]);
    const entryPath = { ...resourcePath, resourceInstanceId: 1 };
    assert.equal(text(encodeSenmlJson(one, entryPath)), '[{"bn":"/0/1/16/1","v":168}]');
    assert.deepStrictEqual(decodeAt('[{"bn":"/0/1/16/1","v":168}]', entryPath), one);
  });
  it('an empty pack is an empty tree', () => {
    assert.deepStrictEqual(decodeAt('[]', path), []);
  });
  for (const [label, json, code] of [
    ['outside the request path', '[{"n":"/1/1/0","v":101}]', 'INVALID_PATH'],
    ['an instance, not a resource', '[{"bn":"/1/0","v":101}]', 'INVALID_PATH'],
    ['a trailing slash', '[{"n":"/1/0/0/","v":101}]', 'INVALID_PATH'],
    ['no leading slash', '[{"n":"1/0/0","v":101}]', 'INVALID_PATH'],
    ['a name that is not numeric', '[{"bn":"/1/0/","n":"x","v":101}]', 'INVALID_PATH'],
    ['an id of 65535', '[{"n":"/1/0/65535","v":101}]', 'INVALID_PATH'],
    ['the same resource twice', '[{"n":"/1/0/0","v":1},{"n":"/1/0/0","t":-5,"v":2}]', 'DUPLICATE'],
    ['a resource both single and multiple', '[{"n":"/1/0/0","v":1},{"n":"/1/0/0/0","v":2}]', 'DUPLICATE'],
  ] as const) {
    it(`rejects a name: ${label}`, () => {
      assertLocatedCodecError(() => decodeAt(json, path), code);
    });
  }
});

describe('SenML-JSON: values typed by the object model', () => {
  const path = { objectId: 9999, instanceId: 0 };
  const declared = typesOf({ 0: 'integer', 1: 'unsigned', 2: 'time', 3: 'float', 4: 'string', 5: 'corelnk', 6: 'boolean', 7: 'opaque', 8: 'objlnk', 9: 'none' });
  const one = (resourceId: number, member: string): ResourceValue => {
    const decoded = decodeAt(`[{"n":"/9999/0/${resourceId}",${member}}]`, path, declared);
    const node = decoded[0]!.instances[0]!.resources[0]!;
    assert.equal(node.kind, 'single');
    return node.value;
  };

  it('"v" takes the declared number type, exactly over the whole 64-bit range', () => {
    assert.deepStrictEqual(one(0, '"v":-9223372036854775808'), integerValue(INTEGER_MIN));
    assert.deepStrictEqual(one(1, '"v":18446744073709551615'), unsignedValue(UNSIGNED_MAX));
    assert.deepStrictEqual(one(2, '"v":1367491215'), timeValue(1367491215));
    assert.deepStrictEqual(one(3, '"v":3'), floatValue(3));
    assert.deepStrictEqual(one(3, '"v":-2.5e-3'), floatValue(-0.0025));
    assert.deepStrictEqual(one(0, '"v":3.0'), integerValue(3));
  });
  it('"vs" is a string or a corelnk, "vb" a boolean, "vd" opaque, "vlo" an object link', () => {
    assert.deepStrictEqual(one(4, '"vs":"a\\"b\\u00e9"'), stringValue('a"bé'));
    assert.deepStrictEqual(one(5, '"vs":"</3/0>"'), corelnkValue('</3/0>'));
    assert.deepStrictEqual(one(6, '"vb":true'), booleanValue(true));
    assert.deepStrictEqual(one(7, '"vd":"-_8"'), opaqueValue(Uint8Array.of(0xfb, 0xff)));
    assert.deepStrictEqual(one(8, '"vlo":"65535:65535"'), objlnkValue(65535, 65535));
  });
  it('resources the model does not know: integral numbers are integers, others floats', () => {
    // Object 77 is not in the built-in model.
    const unknown = (member: string): ResourceNode => decodeAt(`[{"n":"/77/0/1",${member}}]`, {})[0]!.instances[0]!.resources[0]!;
    assert.deepStrictEqual(unknown('"v":42'), single(1, integerValue(42)));
    assert.deepStrictEqual(unknown('"v":-0.5'), single(1, floatValue(-0.5)));
    assert.deepStrictEqual(unknown('"v":1e300'), single(1, floatValue(1e300)));
    assert.deepStrictEqual(unknown('"v":18446744073709551615'), single(1, unsignedValue(UNSIGNED_MAX)));
    assert.deepStrictEqual(unknown('"vs":"x"'), single(1, stringValue('x')));
    assert.deepStrictEqual(unknown('"vb":false'), single(1, booleanValue(false)));
    assert.deepStrictEqual(unknown('"vd":""'), single(1, opaqueValue(new Uint8Array())));
    assert.deepStrictEqual(unknown('"vlo":"3:0"'), single(1, objlnkValue(3, 0)));
  });
  for (const [label, resourceId, member, code] of [
    ['a fraction for an integer', 0, '"v":1.5', 'TYPE_MISMATCH'],
    ['a string for an integer', 0, '"vs":"1"', 'TYPE_MISMATCH'],
    ['a number for a string', 4, '"v":1', 'TYPE_MISMATCH'],
    ['a boolean for opaque', 7, '"vb":true', 'TYPE_MISMATCH'],
    ['an object link for a float', 3, '"vlo":"1:2"', 'TYPE_MISMATCH'],
    ['a value for an executable resource', 9, '"vs":""', 'TYPE_MISMATCH'],
    ['a negative unsigned', 1, '"v":-1', 'OUT_OF_RANGE'],
    ['an integer above 2^63 - 1', 0, '"v":9223372036854775808', 'OUT_OF_RANGE'],
    ['an integer written with an exponent beyond 2^53', 0, '"v":1e19', 'OUT_OF_RANGE'],
    ['a time written with a fraction beyond 2^53', 2, '"v":12345678901234567891.0', 'OUT_OF_RANGE'],
    ['a number beyond the double range', 3, '"v":1e400', 'OUT_OF_RANGE'],
    ['an object link id above 65535', 8, '"vlo":"65536:0"', 'OUT_OF_RANGE'],
    ['an object link without colon', 8, '"vlo":"3"', 'MALFORMED'],
    ['an object link with a sign', 8, '"vlo":"+3:0"', 'MALFORMED'],
  ] as const) {
    it(`rejects ${label}`, () => {
      const error = assertLocatedCodecError(() => one(resourceId, member), code);
      if (code === 'TYPE_MISMATCH') assert.equal(error.field, `/9999/0/${resourceId}`);
    });
  }
  it('never quotes a string value in a message', () => {
    const error = assertLocatedCodecError(() => one(0, '"vs":"SECRET-PSK-VALUE"'), 'TYPE_MISMATCH');
    assert.doesNotMatch(error.message, /SECRET/);
  });
});

describe('SenML-JSON: records the decoder refuses', () => {
  const path = { objectId: 1, instanceId: 0 };
  for (const [label, json, code, field] of [
    ['version 11', '[{"bver":11,"n":"/1/0/1","v":1}]', 'UNSUPPORTED', 'record[0].bver'],
    ['version 0', '[{"bver":0,"n":"/1/0/1","v":1}]', 'MALFORMED', 'record[0].bver'],
    ['a must-understand field', '[{"n":"/1/0/1","v":1},{"n":"/1/0/0","v":1,"ext_":1}]', 'UNSUPPORTED', 'record[1].ext_'],
    ['a base value', '[{"bv":5,"n":"/1/0/1","v":1}]', 'UNSUPPORTED', 'record[0].bv'],
    ['a record with only a sum', '[{"n":"/1/0/1","s":1}]', 'UNSUPPORTED', 'record[0].s'],
    ['two value fields', '[{"n":"/1/0/1","v":1,"vs":"1"}]', 'MALFORMED', 'record[0].vs'],
    ['a named record without value', '[{"n":"/1/0/1"}]', 'MALFORMED', 'record[0]'],
    ['a name that is a number', '[{"n":1,"v":1}]', 'MALFORMED', 'record[0].n'],
    ['a time that is a string', '[{"n":"/1/0/1","t":"now","v":1}]', 'MALFORMED', 'record[0].t'],
    ['a boolean that is a number', '[{"n":"/1/0/6","vb":1}]', 'MALFORMED', 'record[0].vb'],
    ['data that is not base64url', '[{"n":"/1/0/1","vd":"a.b"}]', 'MALFORMED', 'record[0].vd'],
    ['data of impossible length', '[{"n":"/1/0/1","vd":"abcde"}]', 'MALFORMED', 'record[0].vd'],
    ['data that is a number', '[{"n":"/1/0/1","vd":5}]', 'MALFORMED', 'record[0].vd'],
    ['a lone surrogate', '[{"n":"/1/0/7","vs":"\\ud800"}]', 'MALFORMED', 'record[0].vs'],
    ['a record that is an array', '[[]]', 'MALFORMED', 'record[0]'],
    ['a pack that is an object', '{"n":"/1/0/1","v":1}', 'MALFORMED', undefined],
    ['the same label twice', '[{"n":"/1/0/1","v":1,"v":2}]', 'DUPLICATE', undefined],
    ['a trailing comma', '[{"n":"/1/0/1","v":1},]', 'MALFORMED', undefined],
    ['a leading byte order mark', '\ufeff[]', 'MALFORMED', undefined],
    ['single quotes', "[{'n':'/1/0/1','v':1}]", 'MALFORMED', undefined],
    ['a number "1."', '[{"n":"/1/0/1","v":1.}]', 'MALFORMED', undefined],
    ['an empty payload', '', 'TRUNCATED', undefined],
    ['a cut payload', '[{"n":"/1/0/1","v":1', 'TRUNCATED', undefined],
  ] as const) {
    it(label, () => {
      assertLocatedCodecError(() => decodeAt(json, path), code, { field });
    });
  }
  it('the offset of a duplicate label: the separator just before it', () => {
    assert.equal(assertLocatedCodecError(() => decodeAt('[{"v":1,"v":2}]', path), 'DUPLICATE').offset, 7);
  });
  it('bytes that are not UTF-8', () => {
    assertLocatedCodecError(() => decodeSenmlJson(Uint8Array.of(0x5b, 0x22, 0xff, 0x22, 0x5d), path), 'MALFORMED', { field: 'payload' });
  });
  it('nesting deeper than the limit', () => {
    const depth = DecodeLimits.maxDepth + 1;
    assertLocatedCodecError(() => decodeAt('['.repeat(depth) + ']'.repeat(depth), path), 'LIMIT_EXCEEDED');
    assert.deepStrictEqual(decodeAt(`[{"n":"/1/0/1","v":1,"x":${'['.repeat(14)}${']'.repeat(14)}}]`, path), tree(1, 0, [single(1, integerValue(1))]));
  });
  it('a payload above the size limit', () => {
    assertLocatedCodecError(() => decodeSenmlJson(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), path), 'LIMIT_EXCEEDED');
  });
});

describe('SenML-JSON: the encoder refuses', () => {
  const path = { objectId: 9999, instanceId: 0 };
  for (const [label, value, code] of [
    ['NaN', floatValue(Number.NaN), 'OUT_OF_RANGE'],
    ['Infinity', floatValue(Number.POSITIVE_INFINITY), 'OUT_OF_RANGE'],
    ['an integer beyond 64 bits', integerValue(2n ** 63n), 'OUT_OF_RANGE'],
    ['a lone surrogate', stringValue('\ud800'), 'MALFORMED'],
    ['an object link id above 65535', objlnkValue(70000, 0), 'OUT_OF_RANGE'],
  ] as const) {
    it(label, () => {
      assertLocatedCodecError(() => encodeSenmlJson(tree(9999, 0, [single(1, value)]), path), code, { field: '/9999/0/1' });
    });
  }
  it('a value of the wrong kind for the declared type', () => {
    assertLocatedCodecError(() => encodeSenmlJson(tree(1, 0, [single(1, stringValue('300'))]), { objectId: 1, instanceId: 0 }), 'TYPE_MISMATCH', { field: '/1/0/1' });
  });
  it('content outside the request path', () => {
    assertLocatedCodecError(() => encodeSenmlJson(PINNED_SERVER, { objectId: 1, instanceId: 1 }), 'INVALID_PATH');
  });
});

describe('base64url (RFC 4648 section 10 vectors, URL-safe alphabet of section 5)', () => {
  const vectors: [string, string][] = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  it('encodes and decodes without padding', () => {
    for (const [plain, encoded] of vectors) {
      assert.equal(encodeBase64Url(utf8(plain)), encoded);
      assert.deepStrictEqual(decodeBase64Url(encoded, 'vd'), utf8(plain));
    }
    assert.equal(encodeBase64Url(Uint8Array.of(0xfb, 0xff, 0xbf)), '-_-_');
  });
  it('also reads padding and the standard alphabet', () => {
    assert.deepStrictEqual(decodeBase64Url('Zg==', 'vd'), utf8('f'));
    assert.deepStrictEqual(decodeBase64Url('+/+/', 'vd'), Uint8Array.of(0xfb, 0xff, 0xbf));
    assertLocatedCodecError(() => decodeBase64Url('Zg=', 'vd'), 'MALFORMED', { field: 'vd' });
  });
  it('round-trips any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.deepStrictEqual(decodeBase64Url(encodeBase64Url(bytes), 'vd'), bytes);
      assert.equal(encodeBase64Url(bytes), Buffer.from(bytes).toString('base64url'));
    }), { numRuns: 300 });
  });
});

describe('SenML-JSON: properties', () => {
  it('every value type round-trips exactly, declared by the model', () => {
    assertEveryTypeRoundTrips(senmlJsonCodec);
  });
  const decodeAtObject = (bytes: Uint8Array): ContentTree => decodeSenmlJson(bytes, { objectId: 0 });
  it('random bytes: a tree or a CodecError', () => {
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 64 }), decodeAtObject);
  });
  it('random JSON-like text: a tree or a CodecError', () => {
    const piece = fc.constantFrom('[', ']', '{', '}', ',', ':', '"n"', '"bn"', '"v"', '"vs"', '"vd"', '"vlo"', '"bver"', '"/0/1/"', '"0"', '"/0/1/0"', '1', '-1', '1.5e3', '18446744073709551616', 'true', 'null', '"x_"', '"AA"', '"1:2"');
    assertOnlyCodecErrors(fc.array(piece, { maxLength: 30 }).map((pieces) => utf8(pieces.join(''))), decodeAtObject);
  });
  it('valid payloads with bytes flipped, cut or inserted: a tree or a CodecError', () => {
    const payloads = objectTreeArbitrary(SECURITY_OBJECT).map((content) => encodeSenmlJson(content, { objectId: 0 }));
    assertOnlyCodecErrors(mutatedBytes(payloads, 3), decodeAtObject, 1000);
  });
});
