import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { decodeLwm2mCbor, encodeLwm2mCbor, lwm2mCborCodec } from '../../shared/content/lwm2m-cbor.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';
import type { ResourceTypeLookup } from '../../shared/lwm2m/model.ts';
import { ACCESS_CONTROL_OBJECT } from '../../shared/lwm2m/objects/access-control.ts';
import { OSCORE_OBJECT } from '../../shared/lwm2m/objects/oscore.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../../shared/lwm2m/objects/server.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import { booleanValue, corelnkValue, floatValue, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, timeValue, UNSIGNED_MAX, unsignedValue, type ResourceValue } from '../../shared/lwm2m/value.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, assertTreesRoundTrip, bothWaysFor, decodedOrCodecError, hex, mutatedBytes, type ExpectedDetail } from '../fixtures/codec-assertions.ts';
import { PINNED_IDENTITY, PINNED_SECURITY, PINNED_SECURITY_PATH, PINNED_SERVER, PINNED_SERVER_PATH } from '../fixtures/pinned-instances.ts';
import { allTypes } from '../fixtures/test-objects.ts';
import { multiple, objectTree, single } from '../fixtures/trees.ts';

// Every vector below is written out by hand from RFC 8949 section 3 (item head: major type in
// the top 3 bits, then the argument inline below 24 or in 1/2/4/8 bytes after 0x18..0x1b) and
// the LwM2M CBOR layout of LwM2M 1.2 Core 7.4.6: nested maps keyed by path ids, where a key may
// be an array of consecutive ids. The 1.2 specification text was not reachable from here; the
// layout facts (absolute keys, array keys, tag 1 for time) were checked against Anjay's and
// Anjay Lite's LwM2M CBOR implementations and tests, whose payload shapes several cases reuse.

const tree = objectTree;
const bothWays = bothWaysFor(lwm2mCborCodec);

const SECURITY_BYTES = hex(
  'A1', // map(1)
  '82 00 01', //   key array(2) [0, 1]: /0/1, the request path
  'A8', //   map(8): the resources of /0/1
  `00 78 1B ${ascii('coaps://dm.example.com:5684')}`, // 0: text(27, 1-byte length) LwM2M Server URI
  '01 F4', // 1: false, Bootstrap-Server
  '02 00', // 2: unsigned(0), Security Mode PSK
  `03 58 18 ${ascii('urn:imei:490154203237518')}`, // 3: bytes(24, 1-byte length) PSK identity
  '05 50 000102030405060708090A0B0C0D0E0F', // 5: bytes(16) Secret Key
  '0A 18 65', // 10: unsigned(101, 1-byte argument) Short Server ID
  '0B 00', // 11: unsigned(0) Client Hold Off Time
  '0C 00', // 12: unsigned(0) Bootstrap-Server Account Timeout
);

const SERVER_BYTES = hex(
  'A1', // map(1)
  '82 01 00', //   key array(2) [1, 0]: /1/0
  'A3', //   map(3)
  '00 18 65', // 0: unsigned(101) Short Server ID
  '01 19 01 2C', // 1: unsigned(300, 2-byte argument) Lifetime
  '07 61 55', // 7: text(1) "U" Binding
);

describe('LwM2M CBOR: pinned Security and Server instances', () => {
  bothWays('PINNED_SECURITY at /0/1', SECURITY_BYTES, PINNED_SECURITY_PATH, PINNED_SECURITY);
  bothWays('PINNED_SERVER at /1/0', SERVER_BYTES, PINNED_SERVER_PATH, PINNED_SERVER);

  // Request /1 and request /: the object id alone is a plain unsigned key, then one map per level.
  const nested = hex(
    'A1 01', // map(1), key 1: /1
    'A1 00', //   map(1), key 0: /1/0
    'A3 00 18 65 01 19 01 2C 07 61 55', // the three resources as above
  );
  bothWays('PINNED_SERVER at /1', nested, { objectId: 1 }, PINNED_SERVER);
  bothWays('PINNED_SERVER at /', nested, {}, PINNED_SERVER);

  it('reads the same instance with indefinite-length maps and path array', () => {
    const bytes = hex(
      'BF', // map(*)
      '9F 01 00 FF', //   key array(*) [1, 0], break
      'BF 00 18 65 01 19 01 2C 07 61 55 FF', //   map(*) of the three resources, break
      'FF', // break
    );
    assert.deepStrictEqual(decodeLwm2mCbor(bytes, PINNED_SERVER_PATH), PINNED_SERVER);
  });

  it('reads one instance spread over several keys (Anjay test shape {[13,26,1]: .., [13,26]: {..}})', () => {
    const bytes = hex(
      'A2', // map(2)
      '83 01 00 00 18 65', // [1, 0, 0]: 101
      '82 01 00 A2 01 19 01 2C 07 61 55', // [1, 0]: {1: 300, 7: "U"}
    );
    assert.deepStrictEqual(decodeLwm2mCbor(bytes, PINNED_SERVER_PATH), PINNED_SERVER);
  });

  it('reads single-id array keys at every level ({[1]: {[0]: {[0]: 101, ...}}})', () => {
    const bytes = hex('A1 81 01 A1 81 00 A3 81 00 18 65 81 01 19 01 2C 81 07 61 55');
    assert.deepStrictEqual(decodeLwm2mCbor(bytes, PINNED_SERVER_PATH), PINNED_SERVER);
  });

  it('reads both instances at the root', () => {
    const bytes = hex(
      'A2', // map(2)
      `00 A1 01 A8 00 78 1B ${ascii('coaps://dm.example.com:5684')} 01 F4 02 00`, // 0: {1: {...
      `03 58 18 ${ascii('urn:imei:490154203237518')} 05 50 000102030405060708090A0B0C0D0E0F 0A 18 65 0B 00 0C 00`,
      '01 A1 00 A3 00 18 65 01 19 01 2C 07 61 55', // 1: {0: {...}}
    );
    assert.deepStrictEqual(decodeLwm2mCbor(bytes, {}), [...PINNED_SECURITY, ...PINNED_SERVER]);
  });
});

describe('LwM2M CBOR: resource and resource instance paths', () => {
  bothWays('single resource /1/0/1', hex('A1 83 01 00 01 19 01 2C'), { objectId: 1, instanceId: 0, resourceId: 1 }, tree(1, [[0, [single(1, integerValue(300))]]]));

  const ciphersuites = tree(0, [[1, [multiple(16, [[0, unsignedValue(0xc0a8)], [1, unsignedValue(0xc02b)]])]]]);
  bothWays(
    'multiple resource /0/1/16',
    hex(
      'A1 83 00 01 10', // map(1), key [0, 1, 16]
      'A2 00 19 C0 A8 01 19 C0 2B', // map(2) {0: 0xC0A8, 1: 0xC02B}
    ),
    { objectId: 0, instanceId: 1, resourceId: 16 },
    ciphersuites,
  );
  bothWays(
    'resource instance /0/1/16/1',
    hex('A1 84 00 01 10 01 19 C0 2B'), // {[0, 1, 16, 1]: 0xC02B}
    { objectId: 0, instanceId: 1, resourceId: 16, resourceInstanceId: 1 },
    tree(0, [[1, [multiple(16, [[1, unsignedValue(0xc02b)]])]]]),
  );
});

// The test object 13 with one resource of each type, at instance 26 (the ids of Anjay's tests).
const testTypes = allTypes;
const unknownTypes: ResourceTypeLookup = () => undefined;

const ALL_TYPES_BYTES = hex(
  'A1 82 0D 18 1A', // map(1), key [13, 26]
  'A9', // map(9)
  '01 39 02 ED', // 1: negative(-1 - 0x2ED) = -750 (the Appendix C text example value)
  '02 1B FFFFFFFFFFFFFFFF', // 2: unsigned(2^64 - 1, 8-byte argument)
  '03 FA 3FC00000', // 3: binary32 1.5
  '04 F5', // 4: true
  `05 64 ${ascii('test')}`, // 5: text(4)
  '06 45 0102030405', // 6: bytes(5)
  '07 C1 1A 5182428F', // 7: tag 1 (epoch time) unsigned(1367491215), Current Time of the spec's Read /3/0
  `08 64 ${ascii('66:0')}`, // 8: objlnk as text "66:0"
  `09 66 ${ascii('</3/0>')}`, // 9: corelnk as text(6)
);
const ALL_TYPES_TREE = tree(13, [
  [
    26,
    [
      single(1, integerValue(-750)),
      single(2, unsignedValue(UNSIGNED_MAX)),
      single(3, floatValue(1.5)),
      single(4, booleanValue(true)),
      single(5, stringValue('test')),
      single(6, opaqueValue(Uint8Array.of(1, 2, 3, 4, 5))),
      single(7, timeValue(1367491215)),
      single(8, objlnkValue(66, 0)),
      single(9, corelnkValue('</3/0>')),
    ],
  ],
]);

describe('LwM2M CBOR: value types', () => {
  bothWays('one resource of each type at /13/26', ALL_TYPES_BYTES, { objectId: 13, instanceId: 26 }, ALL_TYPES_TREE, testTypes);

  it('decodes resources the model does not know by their CBOR type', () => {
    const generic = tree(13, [
      [
        26,
        [
          single(1, integerValue(-750)),
          single(2, unsignedValue(UNSIGNED_MAX)), // above 2^63 - 1: unsigned
          single(3, floatValue(1.5)),
          single(4, booleanValue(true)),
          single(5, stringValue('test')),
          single(6, opaqueValue(Uint8Array.of(1, 2, 3, 4, 5))),
          single(7, timeValue(1367491215)),
          single(8, stringValue('66:0')),
          single(9, stringValue('</3/0>')),
        ],
      ],
    ]);
    assert.deepStrictEqual(decodeLwm2mCbor(ALL_TYPES_BYTES, { objectId: 13, instanceId: 26 }, unknownTypes), generic);
  });

  const at = (resourceId: number): LwM2MPath => ({ objectId: 13, instanceId: 26, resourceId });
  const one = (resourceId: number, value: ResourceValue): ContentTree => tree(13, [[26, [single(resourceId, value)]]]);
  bothWays('float that binary32 cannot hold: binary64', hex('A1 83 0D 18 1A 03 FB 3FB999999999999A'), at(3), one(3, floatValue(0.1)), testTypes);
  bothWays('most negative integer', hex('A1 83 0D 18 1A 01 3B 7FFFFFFFFFFFFFFF'), at(1), one(1, integerValue(INTEGER_MIN)), testTypes);

  it('accepts time without tag 1, and integers for a float resource', () => {
    assert.deepStrictEqual(decodeLwm2mCbor(hex('A1 83 0D 18 1A 07 1A 5182428F'), at(7), testTypes), one(7, timeValue(1367491215)));
    assert.deepStrictEqual(decodeLwm2mCbor(hex('A1 83 0D 18 1A 03 02'), at(3), testTypes), one(3, floatValue(2)));
    assert.deepStrictEqual(decodeLwm2mCbor(hex('A1 83 0D 18 1A 03 F9 3E00'), at(3), testTypes), one(3, floatValue(1.5))); // binary16
  });
});

describe('LwM2M CBOR: errors', () => {
  const instance: LwM2MPath = { objectId: 1, instanceId: 0 };
  const cases: [string, string, LwM2MPath, CodecErrorCode, ExpectedDetail][] = [
    ['empty payload', '', instance, 'TRUNCATED', { offset: 0 }],
    ['not a map', '00', instance, 'MALFORMED', { offset: 0 }],
    ['map cut after its key', 'A1 82 01 00', instance, 'TRUNCATED', { offset: 4 }],
    ['item head cut', 'A1 82 01 00 A1 00 19 01', instance, 'TRUNCATED', { offset: 6 }],
    ['bytes after the map', 'A1 83 01 00 00 18 65 00', instance, 'TRAILING_BYTES', { offset: 7 }],
    ['text key', `A1 62 ${ascii('26')} 00`, instance, 'MALFORMED', { offset: 1 }],
    ['float id in a path array (Anjay path_unexpected_type_1)', 'A1 83 01 FB 3FD0A3D70A3D70A4 00 00', instance, 'MALFORMED', { offset: 3 }],
    ['empty path array', 'A1 80 00', instance, 'MALFORMED', { offset: 1 }],
    ['id 65535 is reserved', 'A1 83 01 00 19 FFFF 00', instance, 'INVALID_PATH', { offset: 4 }],
    ['id beyond 16 bits (Anjay path_id_too_big_array)', 'A1 83 01 00 1A 00010000 00', instance, 'INVALID_PATH', { offset: 4 }],
    ['five ids (Anjay path_too_long_1)', 'A1 85 01 00 01 02 03 00', instance, 'INVALID_PATH', { offset: 6 }],
    ['five ids over nested maps (Anjay path_too_long_3)', 'A1 01 A1 00 A1 01 A1 02 A1 03 04', instance, 'INVALID_PATH', { field: '/1/0/1/2/3' }],
    ['value at instance level', 'A1 82 01 00 05', instance, 'INVALID_PATH', { field: '/1/0' }],
    ['value outside the request path (Anjay path_outside_base_2)', 'A1 83 01 01 00 18 65', instance, 'INVALID_PATH', { field: '/1/1/0' }],
    ['array as a value (Anjay path_lack_unexpected_array)', 'A1 01 A1 00 81 A1 00 00', instance, 'MALFORMED', { offset: 4 }],
    ['same key twice in one map', 'A1 82 01 00 A2 00 01 00 02', instance, 'DUPLICATE', { field: '/1/0/0' }],
    ['same resource under two keys', 'A2 83 01 00 00 01 82 01 00 A1 00 02', instance, 'DUPLICATE', { field: '/1/0/0' }],
    ['null (Write-Composite deletion)', 'A1 83 01 00 01 F6', instance, 'UNSUPPORTED', { offset: 5 }],
    ['tag 4 decimal fraction', 'A1 83 01 00 01 C4 82 20 18 2D', instance, 'UNSUPPORTED', { offset: 5 }],
    ['tag 1 on a text string', `A1 83 01 00 01 C1 61 ${ascii('x')}`, instance, 'UNSUPPORTED', { offset: 6 }],
    ['indefinite-length text string', `A1 83 01 00 07 7F 61 ${ascii('U')} FF`, instance, 'UNSUPPORTED', { offset: 5 }],
    ['text string that is not UTF-8', 'A1 83 01 00 07 62 C328', instance, 'MALFORMED', { offset: 5 }],
    ['break where a value belongs', 'A1 83 01 00 07 FF', instance, 'MALFORMED', { offset: 5 }],
    ['reserved additional information 28', 'A1 83 01 00 01 1C', instance, 'MALFORMED', { offset: 5 }],
    ['text for an integer resource', `A1 83 01 00 01 63 ${ascii('300')}`, instance, 'TYPE_MISMATCH', { field: '/1/0/1' }],
    ['integer beyond 64 signed bits', 'A1 83 01 00 01 1B 8000000000000000', instance, 'OUT_OF_RANGE', { field: '/1/0/1' }],
    ['float for an integer resource', 'A1 83 01 00 01 FA 3FC00000', instance, 'TYPE_MISMATCH', { field: '/1/0/1' }],
    ['value for an executable resource', 'A1 83 01 00 04 F5', instance, 'TYPE_MISMATCH', { field: '/1/0/4' }],
    ['negative Registration Priority Order (unsigned)', 'A1 83 01 00 0D 20', instance, 'OUT_OF_RANGE', { field: '/1/0/13' }],
    ['malformed object link', `A1 83 01 00 0A 63 ${ascii('1:x')}`, instance, 'TYPE_MISMATCH', { field: '/1/0/10' }],
  ];
  for (const [name, bytes, path, code, detail] of cases) {
    it(`${name}: ${code}`, () => {
      assertCodecError(() => decodeLwm2mCbor(hex(bytes), path), code, detail);
    });
  }

  it('rejects payloads beyond the size limit before reading them', () => {
    assertCodecError(() => decodeLwm2mCbor(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), instance), 'LIMIT_EXCEEDED');
  });

  it('stops at maxValues values', () => {
    // {[13, 26]: {1: {0: 0, ..., 40000: 0}, 2: {0: 0, ...}}}: two resources of 40001 instances.
    const entries = (count: number): string => `B9 ${count.toString(16).padStart(4, '0')}` + Array.from({ length: count }, (_, id) => `19 ${id.toString(16).padStart(4, '0')} 00`).join('');
    const bytes = hex('A1 82 0D 18 1A A2 01', entries(40001), '02', entries(40001));
    assertCodecError(() => decodeLwm2mCbor(bytes, { objectId: 13, instanceId: 26 }, testTypes), 'LIMIT_EXCEEDED');
  });

  it('does not copy key bytes into messages', () => {
    const error = assertCodecError(() => decodeLwm2mCbor(SECURITY_BYTES, PINNED_SECURITY_PATH, (_, resourceId) => (resourceId === 5 ? 'string' : SECURITY_OBJECT.resources.find((r) => r.id === resourceId)?.type)), 'TYPE_MISMATCH', { field: '/0/1/5' });
    assert.doesNotMatch(error.message, /0001020304|urn:imei/);
  });

  it('encoder: content outside the path, a value of another type, out of range', () => {
    assertCodecError(() => encodeLwm2mCbor(PINNED_SERVER, PINNED_SECURITY_PATH), 'INVALID_PATH');
    assertCodecError(() => encodeLwm2mCbor(tree(1, [[0, [single(1, stringValue('300'))]]]), PINNED_SERVER_PATH), 'TYPE_MISMATCH', { field: '/1/0/1' });
    assertCodecError(() => encodeLwm2mCbor(tree(1, [[0, [single(1, integerValue(1n << 63n))]]]), PINNED_SERVER_PATH), 'OUT_OF_RANGE', { field: '/1/0/1' });
    assertCodecError(() => encodeLwm2mCbor(tree(1, [[0, [single(4, booleanValue(true))]]]), PINNED_SERVER_PATH), 'TYPE_MISMATCH', { field: '/1/0/4' });
  });

  it('copies opaque values out of the input', () => {
    const input = Buffer.from(SECURITY_BYTES);
    const decoded = decodeLwm2mCbor(input, PINNED_SECURITY_PATH);
    input.fill(0);
    assert.deepStrictEqual(decoded, PINNED_SECURITY);
    const identity = decoded[0]!.instances[0]!.resources.find((resource) => resource.id === 3);
    assert.ok(identity?.kind === 'single' && identity.value.type === 'opaque');
    assert.deepStrictEqual(identity.value.value, PINNED_IDENTITY);
    assert.equal(Object.getPrototypeOf(identity.value.value), Uint8Array.prototype);
  });
});

describe('LwM2M CBOR: properties', () => {
  const objects = [SECURITY_OBJECT, SERVER_OBJECT, ACCESS_CONTROL_OBJECT, OSCORE_OBJECT];

  it('decode(encode(tree)) is the tree, at the object level and at the root', () => {
    assertTreesRoundTrip(lwm2mCborCodec, objects);
  });

  const paths: LwM2MPath[] = [{}, { objectId: 0 }, PINNED_SECURITY_PATH, { objectId: 1, instanceId: 0, resourceId: 1 }];
  const decodeAt = ([path, bytes]: [LwM2MPath, Uint8Array]): ContentTree => lwm2mCborCodec.decode(bytes, path);

  it('random bytes give a tree or a CodecError', () => {
    assertOnlyCodecErrors(fc.tuple(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 64 })), decodeAt);
  });

  it('random bytes behind a valid map head give a tree or a CodecError', () => {
    const bytes = fc.uint8Array({ maxLength: 64 }).map((tail) => Uint8Array.from([0xa1, 0x82, 0x00, 0x01, ...tail]));
    assertOnlyCodecErrors(fc.tuple(fc.constantFrom(...paths), bytes), decodeAt);
  });

  it('mutated pinned payloads give a tree or a CodecError', () => {
    const payloads = mutatedBytes(fc.constantFrom(SECURITY_BYTES, SERVER_BYTES, ALL_TYPES_BYTES));
    const decodeAtEveryPath = (bytes: Uint8Array): void => {
      for (const path of [...paths, { objectId: 13, instanceId: 26 }]) decodedOrCodecError(() => lwm2mCborCodec.decode(bytes, path));
    };
    assertOnlyCodecErrors(payloads, decodeAtEveryPath, 1500);
  });
});
