import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { decodeLwm2mJson, encodeLwm2mJson, lwm2mJsonCodec } from '../../shared/content/lwm2m-json.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';
import type { ResourceTypeLookup } from '../../shared/lwm2m/model.ts';
import { ACCESS_CONTROL_OBJECT } from '../../shared/lwm2m/objects/access-control.ts';
import { OSCORE_OBJECT } from '../../shared/lwm2m/objects/oscore.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../../shared/lwm2m/objects/server.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import { booleanValue, floatValue, INTEGER_MAX, INTEGER_MIN, integerValue, objlnkValue, stringValue, UNSIGNED_MAX, unsignedValue, type ResourceValue } from '../../shared/lwm2m/value.ts';
import { assertCodecError, assertOnlyCodecErrors, assertTreesRoundTrip, bothWaysFor, decodedOrCodecError, mutatedBytes, type ExpectedDetail } from '../fixtures/codec-assertions.ts';
import { DEVICE_EXAMPLE } from '../fixtures/device-example.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH, PINNED_SERVER, PINNED_SERVER_PATH } from '../fixtures/pinned-instances.ts';
import { multiple, objectTree, single } from '../fixtures/trees.ts';

// The format is LwM2M Core 6.4.4 "JSON" with Table 22 "JSON format and description" (LwM2M 1.0.x;
// read from omadm/omaoriginal TS_Core/OMA-TS-LightweightM2M_Core-V1_1.md, a 1.1 draft that still
// carries the section). Payloads below are written by hand; the spec's examples are quoted with
// its typographic quotes made straight and its line breaks removed.

const text = (json: string): Uint8Array => new TextEncoder().encode(json);
const json = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const tree = objectTree;
const bothWays = bothWaysFor(lwm2mJsonCodec);

const SECURITY_JSON = [
  '{"bn":"/0/1/","e":[', // Base Name: the request path, so names are resource ids
  '{"n":"0","sv":"coaps://dm.example.com:5684"},', // String Value
  '{"n":"1","bv":false},', // Boolean Value
  '{"n":"2","v":0},', // integers are JSON numbers in "v"
  '{"n":"3","sv":"dXJuOmltZWk6NDkwMTU0MjAzMjM3NTE4"},', // opaque as Base64: "urn:imei:490154203237518"
  '{"n":"5","sv":"AAECAwQFBgcICQoLDA0ODw=="},', // Base64 of 00 01 ... 0f
  '{"n":"10","v":101},',
  '{"n":"11","v":0},',
  '{"n":"12","v":0}',
  ']}',
].join('');

const SERVER_JSON = '{"bn":"/1/0/","e":[{"n":"0","v":101},{"n":"1","v":300},{"n":"7","sv":"U"}]}';

describe('LwM2M JSON: pinned Security and Server instances', () => {
  bothWays('PINNED_SECURITY at /0/1', SECURITY_JSON, PINNED_SECURITY_PATH, PINNED_SECURITY);
  bothWays('PINNED_SERVER at /1/0', SERVER_JSON, PINNED_SERVER_PATH, PINNED_SERVER);
  bothWays('PINNED_SERVER at /1', '{"bn":"/1/","e":[{"n":"0/0","v":101},{"n":"0/1","v":300},{"n":"0/7","sv":"U"}]}', { objectId: 1 }, PINNED_SERVER);
  bothWays('PINNED_SERVER at /', '{"bn":"/","e":[{"n":"1/0/0","v":101},{"n":"1/0/1","v":300},{"n":"1/0/7","sv":"U"}]}', {}, PINNED_SERVER);
  bothWays('Lifetime at /1/0/1', '{"bn":"/1/0/1","e":[{"v":300}]}', { objectId: 1, instanceId: 0, resourceId: 1 }, tree(1, [[0, [single(1, integerValue(300))]]]));

  it('reads full names without bn, and whitespace', () => {
    const payload = ' { "e" : [ {"n":"/1/0/0","v":101} , {"n":"/1/0/1","v":300},\n{"n":"/1/0/7","sv":"U"} ] } ';
    assert.deepStrictEqual(decodeLwm2mJson(text(payload), PINNED_SERVER_PATH), PINNED_SERVER);
  });
});

const DEVICE = DEVICE_EXAMPLE;

describe('LwM2M JSON: the specification examples (Core 6.4.4)', () => {
  bothWays(
    'Read /3/0',
    '{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},' +
      '{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},' +
      '{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},' +
      '{"n":"16","sv":"U"}]}',
    { objectId: 3, instanceId: 0 },
    DEVICE,
  );

  // The spec prints {“sv":"Open Mobile Alliance}: its closing quote is missing.
  bothWays('Read /3/0/0', '{"bn":"/3/0/0","e":[{"sv":"Open Mobile Alliance"}]}', { objectId: 3, instanceId: 0, resourceId: 0 }, tree(3, [[0, [single(0, stringValue('Open Mobile Alliance'))]]]));

  // Read /65/0 reports the linked instances of objects 66 and 67 too, under bn "/".
  const HIERARCHY =
    '{ "bn":"/", "e":[ {"n":"65/0/0/0","ov":"66:0"}, {"n":"65/0/0/1","ov":"66:1"}, {"n":"65/0/1","sv":"8613800755500"}, {"n":"65/0/2","v":1},' +
    ' {"n":"66/0/0","sv":"myService1"}, {"n":"66/0/1","sv":"Internet.15.234"}, {"n":"66/0/2","ov":"67:0"}, {"n":"66/1/0","sv":"myService2"},' +
    ' {"n":"66/1/1","sv":"Internet.15.235"}, {"n":"66/1/2","ov":"FFFF:FFFF"}, {"n":"67/0/0","sv":"85.76.76.84"}, {"n":"67/0/1","sv":"85.76.255.255"}] }';

  it('Read /65/0 decodes at the root, the hex null link "FFFF:FFFF" as 65535:65535', () => {
    const expected: ContentTree = [
      ...tree(65, [[0, [multiple(0, [[0, objlnkValue(66, 0)], [1, objlnkValue(66, 1)]]), single(1, stringValue('8613800755500')), single(2, integerValue(1))]]]),
      ...tree(66, [
        [0, [single(0, stringValue('myService1')), single(1, stringValue('Internet.15.234')), single(2, objlnkValue(67, 0))]],
        [1, [single(0, stringValue('myService2')), single(1, stringValue('Internet.15.235')), single(2, objlnkValue(65535, 65535))]],
      ]),
      ...tree(67, [[0, [single(0, stringValue('85.76.76.84')), single(1, stringValue('85.76.255.255'))]]]),
    ];
    assert.deepStrictEqual(decodeLwm2mJson(text(HIERARCHY), {}), expected);
  });

  it('Read /65/0 at its own request path: the linked objects lie outside it', () => {
    assertCodecError(() => decodeLwm2mJson(text(HIERARCHY), { objectId: 65, instanceId: 0 }), 'INVALID_PATH', { field: '/66/0/0' });
  });

  it('the historical Temperature notification (times on one path) is UNSUPPORTED', () => {
    const payload = '{"bn":"/72/","e":[{"n":"1/2","v":22.4,"t":-5},{"n":"1/2","v":22.9,"t":-30},{"n":"1/2","v":24.1,"t":-50}],"bt":25462634}';
    assertCodecError(() => decodeLwm2mJson(text(payload), { objectId: 72 }), 'UNSUPPORTED', { field: '/72/1/2' });
  });

  it('one time-stamped value decodes, its time ignored', () => {
    const payload = '{"bn":"/72/","e":[{"n":"1/2","v":22.4,"t":-5}],"bt":25462634}';
    assert.deepStrictEqual(decodeLwm2mJson(text(payload), { objectId: 72 }), tree(72, [[1, [single(2, floatValue(22.4))]]]));
  });
});

describe('LwM2M JSON: numbers are read exactly', () => {
  const lifetime = (v: string): string => `{"bn":"/1/0/1","e":[{"v":${v}}]}`;
  const lifetimePath: LwM2MPath = { objectId: 1, instanceId: 0, resourceId: 1 };
  const decodeLifetime = (v: string): ResourceValue => {
    const [object] = decodeLwm2mJson(text(lifetime(v)), lifetimePath);
    const resource = object!.instances[0]!.resources[0]!;
    assert.ok(resource.kind === 'single');
    return resource.value;
  };

  it('64-bit integers keep every digit, written either way', () => {
    assert.deepStrictEqual(decodeLifetime('9223372036854775807'), integerValue(INTEGER_MAX));
    assert.deepStrictEqual(decodeLifetime('-9223372036854775808'), integerValue(INTEGER_MIN));
    assert.deepStrictEqual(decodeLifetime('9007199254740993'), integerValue(9007199254740993n));
    assert.deepStrictEqual(decodeLifetime('9.007199254740993e15'), integerValue(9007199254740993n));
    assert.deepStrictEqual(decodeLifetime('1.5e3'), integerValue(1500));
    assert.deepStrictEqual(decodeLifetime('300.0'), integerValue(300));
    assert.deepStrictEqual(decodeLifetime('-0'), integerValue(0));
    assert.equal(json(encodeLwm2mJson(tree(1, [[0, [single(1, integerValue(INTEGER_MAX))]]]), lifetimePath)), lifetime('9223372036854775807'));
  });

  const refused: [string, CodecErrorCode][] = [
    ['9223372036854775808', 'OUT_OF_RANGE'],
    ['-9223372036854775809', 'OUT_OF_RANGE'],
    ['1e19', 'OUT_OF_RANGE'],
    ['1e400', 'OUT_OF_RANGE'],
    ['123456789012345678901234567890', 'OUT_OF_RANGE'],
    ['1.5', 'TYPE_MISMATCH'],
    ['15e-1', 'TYPE_MISMATCH'],
    ['1e-999999999999', 'TYPE_MISMATCH'],
  ];
  for (const [v, code] of refused) {
    it(`an integer resource refuses ${v}: ${code}`, () => {
      assertCodecError(() => decodeLwm2mJson(text(lifetime(v)), lifetimePath), code, { field: '/e/0/v' });
    });
  }

  it('unknown resources: plain integers as integer or unsigned, the rest as float', () => {
    const unknown = (v: string): ResourceValue => {
      const [object] = decodeLwm2mJson(text(`{"bn":"/9/0/0","e":[{"v":${v}}]}`), { objectId: 9, instanceId: 0, resourceId: 0 }, () => undefined);
      const resource = object!.instances[0]!.resources[0]!;
      assert.ok(resource.kind === 'single');
      return resource.value;
    };
    assert.deepStrictEqual(unknown('-12'), integerValue(-12));
    assert.deepStrictEqual(unknown('18446744073709551615'), unsignedValue(UNSIGNED_MAX));
    assert.deepStrictEqual(unknown('12.0'), floatValue(12));
    assert.deepStrictEqual(unknown('1e3'), floatValue(1000));
    assertCodecError(() => unknown('18446744073709551616'), 'OUT_OF_RANGE');
    assertCodecError(() => unknown('1e999'), 'OUT_OF_RANGE');
  });

  it('floats print in the shortest form that reads back', () => {
    const types: ResourceTypeLookup = () => 'float';
    const path: LwM2MPath = { objectId: 9, instanceId: 0, resourceId: 0 };
    for (const [value, printed] of [[0.1, '0.1'], [1e21, '1e+21'], [5e-324, '5e-324'], [-2.5, '-2.5'], [3, '3']] as const) {
      const one = tree(9, [[0, [single(0, floatValue(value))]]]);
      assert.equal(json(encodeLwm2mJson(one, path, types)), `{"bn":"/9/0/0","e":[{"v":${printed}}]}`);
      assert.deepStrictEqual(decodeLwm2mJson(encodeLwm2mJson(one, path, types), path, types), one);
    }
    assertCodecError(() => encodeLwm2mJson(tree(9, [[0, [single(0, floatValue(Number.NaN))]]]), path, types), 'OUT_OF_RANGE');
  });
});

describe('LwM2M JSON: strings', () => {
  it('reads escapes and surrogate pairs, writes what JSON.stringify writes', () => {
    const payload = '{"bn":"/1/0/7","e":[{"sv":"\\u00e9\\n\\"\\\\\\/\\ud83d\\ude00\\t"}]}';
    const expected = tree(1, [[0, [single(7, stringValue('é\n"\\/😀\t'))]]]);
    const path: LwM2MPath = { objectId: 1, instanceId: 0, resourceId: 7 };
    assert.deepStrictEqual(decodeLwm2mJson(text(payload), path), expected);
    assert.equal(json(encodeLwm2mJson(expected, path)), '{"bn":"/1/0/7","e":[{"sv":"é\\n\\"\\\\/😀\\t"}]}');
  });
});

describe('LwM2M JSON: errors', () => {
  const instance = PINNED_SERVER_PATH;
  const cases: [string, string, LwM2MPath, CodecErrorCode, ExpectedDetail?][] = [
    ['empty payload', '', instance, 'TRUNCATED', { offset: 0 }],
    ['not JSON', 'bn=/1/0', instance, 'MALFORMED', { offset: 0 }],
    ['cut short', '{"bn":"/1/0/","e":[{"n":"0","v":1', instance, 'TRUNCATED'],
    ['unterminated string', '{"bn":"/1/0/', instance, 'TRUNCATED'],
    ['bytes after the object', '{"e":[]} {}', instance, 'TRAILING_BYTES', { offset: 9 }],
    ['array at the top', '[{"bn":"/1/0/"}]', instance, 'MALFORMED', { field: '/' }],
    ['no "e"', '{"bn":"/1/0/"}', instance, 'MALFORMED', { field: '/e' }],
    ['"bn" not a string', '{"bn":1,"e":[]}', instance, 'MALFORMED', { field: '/bn' }],
    ['"t" not a number', '{"bn":"/1/0/","e":[{"n":"0","v":1,"t":"now"}]}', instance, 'MALFORMED', { field: '/e/0/t' }],
    ['entry without a value', '{"bn":"/1/0/","e":[{"n":"0"}]}', instance, 'MALFORMED', { field: '/e/0' }],
    ['entry with two values', '{"bn":"/1/0/","e":[{"n":"0","v":1,"sv":"1"}]}', instance, 'MALFORMED', { field: '/e/0' }],
    ['same member twice', '{"bn":"/1/0/","e":[{"n":"0","n":"1","v":1}]}', instance, 'DUPLICATE', { offset: 28 }],
    ['same resource twice', '{"bn":"/1/0/","e":[{"n":"0","v":1},{"n":"0","v":2}]}', instance, 'DUPLICATE', { field: '/1/0/0' }],
    ['name that is not a path', '{"bn":"/1/0/","e":[{"n":"x","v":1}]}', instance, 'INVALID_PATH'],
    ['name at instance level', '{"bn":"/1/0/","e":[{"v":1}]}', instance, 'INVALID_PATH', { field: '/e/0' }],
    ['name outside the request path', '{"bn":"/1/1/","e":[{"n":"0","v":1}]}', instance, 'INVALID_PATH', { field: '/1/1/0' }],
    ['"sv" for an integer resource', '{"bn":"/1/0/","e":[{"n":"1","sv":"300"}]}', instance, 'TYPE_MISMATCH', { field: '/e/0/sv' }],
    ['"bv" that is not a boolean', '{"bn":"/1/0/","e":[{"n":"6","bv":1}]}', instance, 'TYPE_MISMATCH', { field: '/e/0/bv' }],
    ['"v" that is a string', '{"bn":"/1/0/","e":[{"n":"1","v":"300"}]}', instance, 'TYPE_MISMATCH', { field: '/e/0/v' }],
    ['value for an executable resource', '{"bn":"/1/0/","e":[{"n":"4","bv":true}]}', instance, 'TYPE_MISMATCH', { field: '/e/0/bv' }],
    ['bad object link', '{"bn":"/1/0/","e":[{"n":"10","ov":"1-0"}]}', instance, 'TYPE_MISMATCH', { field: '/e/0/ov' }],
    ['object link beyond 16 bits', '{"bn":"/1/0/","e":[{"n":"10","ov":"70000:0"}]}', instance, 'OUT_OF_RANGE', { field: '/e/0/ov' }],
    ['negative unsigned', '{"bn":"/1/0/","e":[{"n":"13","v":-1}]}', instance, 'OUT_OF_RANGE', { field: '/e/0/v' }],
    ['leading zero', '{"bn":"/1/0/","e":[{"n":"1","v":0300}]}', instance, 'MALFORMED'],
    ['NaN literal', '{"bn":"/1/0/","e":[{"n":"1","v":NaN}]}', instance, 'MALFORMED'],
    ['control character in a string', '{"bn":"/1/0/","e":[{"n":"7","sv":"a\tb"}]}', instance, 'MALFORMED'],
    ['bad escape', '{"bn":"/1/0/","e":[{"n":"7","sv":"\\x41"}]}', instance, 'MALFORMED'],
    ['short \\u escape', '{"bn":"/1/0/","e":[{"n":"7","sv":"\\u12"}]}', instance, 'MALFORMED'],
  ];
  for (const [name, payload, path, code, detail = {}] of cases) {
    it(`${name}: ${code}`, () => {
      assertCodecError(() => decodeLwm2mJson(text(payload), path), code, detail);
    });
  }

  it('Base64 that is not valid, without repeating the value', () => {
    const error = assertCodecError(() => decodeLwm2mJson(text('{"bn":"/0/1/","e":[{"n":"5","sv":"secret-key!"}]}'), PINNED_SECURITY_PATH), 'TYPE_MISMATCH', { field: '/e/0/sv' });
    assert.doesNotMatch(error.message, /secret/);
  });

  it('bytes that are not UTF-8', () => {
    assertCodecError(() => decodeLwm2mJson(Uint8Array.from([...text('{"bn":"/1/0/","e":[{"n":"7","sv":"'), 0xc3, 0x28, ...text('"}]}')]), instance), 'MALFORMED', { offset: 34 });
  });

  it('nesting beyond maxDepth', () => {
    const deep = `{"bn":"/1/0/","e":[{"n":"7","x":${'['.repeat(DecodeLimits.maxDepth)}${']'.repeat(DecodeLimits.maxDepth)},"sv":"U"}]}`;
    assertCodecError(() => decodeLwm2mJson(text(deep), instance), 'LIMIT_EXCEEDED');
    const shallow = `{"bn":"/1/0/","e":[{"n":"7","x":${'['.repeat(DecodeLimits.maxDepth - 3)}${']'.repeat(DecodeLimits.maxDepth - 3)},"sv":"U"}]}`;
    assert.deepStrictEqual(decodeLwm2mJson(text(shallow), instance), tree(1, [[0, [single(7, stringValue('U'))]]]));
  });

  it('payloads beyond the size limit', () => {
    assertCodecError(() => decodeLwm2mJson(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), instance), 'LIMIT_EXCEEDED');
  });

  it('encoder: content outside the path, a value of another type', () => {
    assertCodecError(() => encodeLwm2mJson(PINNED_SERVER, PINNED_SECURITY_PATH), 'INVALID_PATH');
    assertCodecError(() => encodeLwm2mJson(tree(1, [[0, [single(1, stringValue('300'))]]]), instance), 'TYPE_MISMATCH', { field: '/1/0/1' });
    assertCodecError(() => encodeLwm2mJson(tree(1, [[0, [single(6, booleanValue(true)), single(1, integerValue(1n << 64n))]]]), instance), 'OUT_OF_RANGE', { field: '/1/0/1' });
  });
});

describe('LwM2M JSON: properties', () => {
  const objects = [SECURITY_OBJECT, SERVER_OBJECT, ACCESS_CONTROL_OBJECT, OSCORE_OBJECT];

  it('decode(encode(tree)) is the tree, at the object level and at the root', () => {
    assertTreesRoundTrip(lwm2mJsonCodec, objects);
  });

  const paths: LwM2MPath[] = [{}, { objectId: 0 }, PINNED_SECURITY_PATH, { objectId: 1, instanceId: 0, resourceId: 1 }];

  it('random bytes and random JSON-ish text give a tree or a CodecError', () => {
    const jsonish = fc.string({ unit: fc.constantFrom(...'{}[]:,"\\ \n0123456789.-+eEtrufalsn/bvosu'.split('')), maxLength: 80 });
    const inputs = fc.tuple(fc.constantFrom(...paths), fc.oneof(fc.uint8Array({ maxLength: 64 }), jsonish.map(text)));
    assertOnlyCodecErrors(inputs, ([path, bytes]) => lwm2mJsonCodec.decode(bytes, path));
  });

  it('mutated pinned payloads give a tree or a CodecError', () => {
    const payloads = mutatedBytes(fc.constantFrom(text(SECURITY_JSON), text(SERVER_JSON)));
    const decodeAtEveryPath = (bytes: Uint8Array): void => {
      for (const path of paths) decodedOrCodecError(() => lwm2mJsonCodec.decode(bytes, path));
    };
    assertOnlyCodecErrors(payloads, decodeAtEveryPath, 1500);
  });
});
