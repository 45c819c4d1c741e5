import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { decodeSenmlCbor, encodeSenmlCbor, parseSenmlCbor, senmlCborCodec } from '../../shared/content/senml-cbor.ts';
import { resolveRecords } from '../../shared/content/senml-record.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import type { ResourceValue } from '../../shared/lwm2m/value.ts';
import { floatValue, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, UNSIGNED_MAX, unsignedValue } from '../../shared/lwm2m/value.ts';
import { objectTreeArbitrary } from '../fixtures/arbitraries.ts';
import { assertLocatedCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';
import { DEVICE_EXAMPLE } from '../fixtures/device-example.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH, PINNED_SERVER, PINNED_SERVER_PATH } from '../fixtures/pinned-instances.ts';
import { assertEveryTypeRoundTrips, typesOf } from '../fixtures/test-objects.ts';
import { instanceTree, single } from '../fixtures/trees.ts';

const tree = instanceTree;

const CUSTOM = typesOf({ 0: 'float', 1: 'unsigned', 2: 'integer', 3: 'opaque', 4: 'string', 8: 'objlnk' });
const CUSTOM_PATH = { objectId: 9999, instanceId: 0 };

describe('SenML-CBOR: pinned instances, hex computed by hand', () => {
  // Labels (RFC 8428 Table 4): bn -2 = 0x21, n 0 = 0x00, v 2 = 0x02, vs 3 = 0x03, vb 4 = 0x04, vd 8 = 0x08.
  const security = hex(
    '88', //                                        array(8): one record per resource
    'a3 21 65 2f302f312f', //                       {bn: "/0/1/",
    '   00 61 30', //                                n: "0",
    '   03 78 1b 636f6170733a2f2f646d2e6578616d706c652e636f6d3a35363834', // vs: text(27) "coaps://dm.example.com:5684"}
    'a2 00 61 31 04 f4', //                         {n: "1", vb: false}
    'a2 00 61 32 02 00', //                         {n: "2", v: 0}
    'a2 00 61 33 08 58 18 75726e3a696d65693a343930313534323033323337353138', // {n: "3", vd: bytes(24) "urn:imei:490154203237518"}
    'a2 00 61 35 08 50 000102030405060708090a0b0c0d0e0f', // {n: "5", vd: bytes(16) 00..0f}
    'a2 00 62 3130 02 18 65', //                    {n: "10", v: 101}
    'a2 00 62 3131 02 00', //                       {n: "11", v: 0}
    'a2 00 62 3132 02 00', //                       {n: "12", v: 0}
  );
  const server = hex(
    '83', //                                        array(3)
    'a3 21 65 2f312f302f 00 61 30 02 18 65', //     {bn: "/1/0/", n: "0", v: 101}
    'a2 00 61 31 02 19 012c', //                    {n: "1", v: 300}
    'a2 00 61 37 03 61 55', //                      {n: "7", vs: "U"}
  );

  it('encodes Security /0/1', () => {
    assert.equal(toHex(encodeSenmlCbor(PINNED_SECURITY, PINNED_SECURITY_PATH)), toHex(security));
  });
  it('decodes Security /0/1', () => {
    assert.deepStrictEqual(decodeSenmlCbor(security, PINNED_SECURITY_PATH), PINNED_SECURITY);
  });
  it('encodes and decodes Server /1/0', () => {
    assert.equal(toHex(senmlCborCodec.encode(PINNED_SERVER, PINNED_SERVER_PATH)), toHex(server));
    assert.deepStrictEqual(senmlCborCodec.decode(server, PINNED_SERVER_PATH), PINNED_SERVER);
  });
});

describe('SenML-CBOR: LwM2M Core 1.1.1 section 7.4.4, Read /3/0 of the example client', () => {
  // The records of the section 7.4.5 JSON example, in CBOR with integer labels, bn on the first.
  const spec = hex(
    '90', //                                        array(16)
    'a3 21 65 2f332f302f 00 61 30', //              {bn: "/3/0/", n: "0",
    '   03 74 4f70656e204d6f62696c6520416c6c69616e6365', // vs: text(20) "Open Mobile Alliance"}
    'a2 00 61 31 03 76 4c69676874776569676874204d324d20436c69656e74', // {n: "1", vs: text(22) "Lightweight M2M Client"}
    'a2 00 61 32 03 69 333435303030313233', //      {n: "2", vs: text(9) "345000123"}
    'a2 00 61 33 03 63 312e30', //                  {n: "3", vs: "1.0"}
    'a2 00 63 362f30 02 01', //                     {n: "6/0", v: 1}
    'a2 00 63 362f31 02 05', //                     {n: "6/1", v: 5}
    'a2 00 63 372f30 02 19 0ed8', //                {n: "7/0", v: 3800}
    'a2 00 63 372f31 02 19 1388', //                {n: "7/1", v: 5000}
    'a2 00 63 382f30 02 18 7d', //                  {n: "8/0", v: 125}
    'a2 00 63 382f31 02 19 0384', //                {n: "8/1", v: 900}
    'a2 00 61 39 02 18 64', //                      {n: "9", v: 100}
    'a2 00 62 3130 02 0f', //                       {n: "10", v: 15}
    'a2 00 64 31312f30 02 00', //                   {n: "11/0", v: 0}
    'a2 00 62 3133 02 1a 5182428f', //              {n: "13", v: 1367491215}
    'a2 00 62 3134 03 66 2b30323a3030', //          {n: "14", vs: "+02:00"}
    'a2 00 62 3136 03 61 55', //                    {n: "16", vs: "U"}
  );
  const device = DEVICE_EXAMPLE;

  it('decodes', () => {
    assert.deepStrictEqual(decodeSenmlCbor(spec, { objectId: 3, instanceId: 0 }), device);
  });
  it('encodes', () => {
    assert.equal(toHex(encodeSenmlCbor(device, { objectId: 3, instanceId: 0 })), toHex(spec));
  });
});

describe('SenML-CBOR: RFC 8428 section 6 example through the generic record reader', () => {
  // The dump printed in section 6 (the section 5.1.2 measurements; bver 5, a half float 1.5).
  const rfc = hex(
    '87 a7 21 78 1b 75 72 6e 3a 64 65 76 3a 6f 77 3a',
    '31 30 65 32 30 37 33 61 30 31 30 38 30 30 36 3a',
    '22 fb 41 d3 03 a1 5b 00 10 62 23 61 41 20 05 00',
    '67 76 6f 6c 74 61 67 65 01 61 56 02 fb 40 5e 06',
    '66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06',
    '24 02 fb 3f f3 33 33 33 33 33 33 a3 00 67 63 75',
    '72 72 65 6e 74 06 23 02 fb 3f f4 cc cc cc cc cc',
    'cd a3 00 67 63 75 72 72 65 6e 74 06 22 02 fb 3f',
    'f6 66 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e',
    '74 06 21 02 f9 3e 00 a3 00 67 63 75 72 72 65 6e',
    '74 06 20 02 fb 3f f9 99 99 99 99 99 9a a3 00 67',
    '63 75 72 72 65 6e 74 06 00 02 fb 3f fb 33 33 33',
    '33 33 33',
  );
  const base = 'urn:dev:ow:10e2073a0108006:';

  it('resolves the names and values of the diagnostic notation', () => {
    assert.deepStrictEqual(resolveRecords(parseSenmlCbor(rfc)), [
      { name: `${base}voltage`, value: { kind: 'v', value: 120.1 } },
      ...[1.2, 1.3, 1.4, 1.5, 1.6, 1.7].map((value) => ({ name: `${base}current`, value: { kind: 'v', value } })),
    ]);
  });
  it('is not LwM2M content: its names are not paths', () => {
    assertLocatedCodecError(() => decodeSenmlCbor(rfc, {}), 'INVALID_PATH');
  });
});

describe('SenML-CBOR: values', () => {
  // /9999/0/r at its own path: [{bn: "/9999/0/r", <label>: value}]
  const at = (resourceId: number, ...value: string[]): Uint8Array =>
    hex('81 a2 21 69 2f393939392f302f', (0x30 + resourceId).toString(16), ...value);
  const path = (resourceId: number): LwM2MPath => ({ ...CUSTOM_PATH, resourceId });
  const cases: [string, number, ResourceValue, Uint8Array][] = [
    ['a float is always a float64', 0, floatValue(2.5), at(0, '02 fb 4004000000000000')],
    ['an integral float too, not an integer', 0, floatValue(3), at(0, '02 fb 4008000000000000')],
    ['an unsigned at 2^64 - 1 is a uint64', 1, unsignedValue(UNSIGNED_MAX), at(1, '02 1b ffffffffffffffff')],
    ['an integer at -2^63 is a negative int64', 2, integerValue(INTEGER_MIN), at(2, '02 3b 7fffffffffffffff')],
    ['opaque is a byte string', 3, opaqueValue(Uint8Array.of(0xde, 0xad)), at(3, '08 42 dead')],
    ['an object link is the text key "vlo"', 8, objlnkValue(66, 1), at(8, '63 766c6f 64 36363a31')],
  ];
  for (const [label, resourceId, value, bytes] of cases) {
    it(label, () => {
      const content = tree(9999, 0, [single(resourceId, value)]);
      assert.equal(toHex(encodeSenmlCbor(content, path(resourceId), CUSTOM)), toHex(bytes));
      assert.deepStrictEqual(decodeSenmlCbor(bytes, path(resourceId), CUSTOM), content);
    });
  }
  const decodesTo = (bytes: Uint8Array, resourceId: number, value: ResourceValue): void =>
    assert.deepStrictEqual(decodeSenmlCbor(bytes, path(resourceId), CUSTOM), tree(9999, 0, [single(resourceId, value)]));

  it('reads half and single floats', () => {
    decodesTo(at(0, '02 f9 3e00'), 0, floatValue(1.5));
    decodesTo(at(0, '02 fa 3fc00000'), 0, floatValue(1.5));
    decodesTo(at(0, '02 f9 7e00'), 0, floatValue(Number.NaN));
  });
  it('reads an integral float as an integer, and integers in longer forms than needed', () => {
    decodesTo(at(2, '02 fb 4008000000000000'), 2, integerValue(3));
    decodesTo(at(2, '02 19 0005'), 2, integerValue(5));
  });
  it('keeps a leading byte order mark as part of a string', () => {
    decodesTo(at(4, '03 64 efbbbf41'), 4, stringValue('\ufeffA')); // vs: text(4) U+FEFF "A"
  });
  it('reads indefinite-length arrays and maps', () => {
    decodesTo(hex('9f bf 21 69 2f393939392f302f32 02 05 ff ff'), 2, integerValue(5));
  });
  it('ignores time, unit, unknown integer labels and text keys that are not its labels', () => {
    const bytes = hex(
      '81 a6', //                                   array(1), map(6)
      '21 69 2f393939392f302f32', //                bn: "/9999/0/2"
      '02 05', //                                   v: 5
      '06 20', //                                   t: -1
      '01 61 56', //                                u: "V"
      '09 00', //                                   9 (no such label): 0
      '61 76 01', //                                "v" (text, an extension name): 1
    );
    decodesTo(bytes, 2, integerValue(5));
  });
  it('a text key "v" is not the value label', () => {
    assertLocatedCodecError(() => decodeSenmlCbor(hex('81 a2 00 69 2f393939392f302f32 61 76 05'), CUSTOM_PATH, CUSTOM), 'MALFORMED', { field: 'record[0]' });
  });
  it('hands out plain Uint8Arrays, also when given a Buffer', () => {
    const decoded = decodeSenmlCbor(Buffer.from(at(3, '08 42 dead')), path(3), CUSTOM);
    assert.deepStrictEqual(decoded, tree(9999, 0, [single(3, opaqueValue(Uint8Array.of(0xde, 0xad)))]));
    assert.equal(Object.getPrototypeOf(encodeSenmlCbor(PINNED_SECURITY, PINNED_SECURITY_PATH)), Uint8Array.prototype);
  });
  it('encodes NaN, which JSON cannot', () => {
    const content = tree(9999, 0, [single(0, floatValue(Number.NaN))]);
    assert.equal(toHex(encodeSenmlCbor(content, path(0), CUSTOM)), toHex(at(0, '02 fb 7ff8000000000000')));
  });
});

describe('SenML-CBOR: bytes the decoder refuses', () => {
  const server = encodeSenmlCbor(PINNED_SERVER, PINNED_SERVER_PATH);
  it('every cut of a valid payload is TRUNCATED at its end', () => {
    for (let length = 0; length < server.length; length += 1) {
      assertLocatedCodecError(() => decodeSenmlCbor(server.subarray(0, length), PINNED_SERVER_PATH), 'TRUNCATED', { offset: length });
    }
  });
  for (const [label, bytes, code, detail] of [
    ['bytes after the pack', hex('80 00'), 'TRAILING_BYTES', { offset: 1 }],
    ['a label twice', hex('81 a3 00 61 30 02 01 02 02'), 'DUPLICATE', { offset: 7 }],
    ['a decimal fraction (tag 4)', hex('81 a2 00 61 30 02 c4 82 21 19 6ab3'), 'UNSUPPORTED', { offset: 6 }],
    ['an indefinite-length text string', hex('81 a2 00 7f 61 30 ff 02 01'), 'UNSUPPORTED', { offset: 3 }],
    ['text that is not UTF-8', hex('81 a2 00 61 ff 02 01'), 'MALFORMED', { offset: 3 }],
    ['undefined', hex('81 a2 00 61 30 02 f7'), 'MALFORMED', { offset: 6 }],
    ['a reserved simple value', hex('81 a2 00 61 30 02 fc'), 'MALFORMED', {}],
    ['a pack that is a map', hex('a0'), 'MALFORMED', { offset: 0 }],
    ['a record that is an array', hex('81 80'), 'MALFORMED', { field: 'record[0]' }],
    ['a byte-string label', hex('81 a1 41 00 01'), 'MALFORMED', { field: 'record[0]' }],
    ['version 11', hex('81 a1 20 0b'), 'UNSUPPORTED', { field: 'record[0].bver' }],
    ['a must-understand text label', hex('81 a1 62 785f 01'), 'UNSUPPORTED', { field: 'record[0].x_' }],
    ['data as text', hex('81 a2 00 61 30 08 61 41'), 'MALFORMED', { field: 'record[0].vd' }],
    ['a string value as bytes', hex('81 a2 00 61 30 03 41 41'), 'MALFORMED', { field: 'record[0].vs' }],
  ] as const) {
    it(label, () => {
      assertLocatedCodecError(() => decodeSenmlCbor(bytes, PINNED_SERVER_PATH), code, detail);
    });
  }
  it('nesting deeper than the limit', () => {
    const depth = DecodeLimits.maxDepth;
    assertLocatedCodecError(() => decodeSenmlCbor(hex('81'.repeat(depth + 1), '80'), {}), 'LIMIT_EXCEEDED', { offset: depth });
    assertLocatedCodecError(() => decodeSenmlCbor(hex('81'.repeat(depth - 1), '80'), {}), 'MALFORMED', { field: 'record[0]' });
  });
  it('a payload above the size limit', () => {
    assertLocatedCodecError(() => decodeSenmlCbor(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), {}), 'LIMIT_EXCEEDED');
  });
  it('never quotes the payload in a message', () => {
    // {n: "/1/0/1", vs: "SECRET"}: a string for the integer resource /1/0/1.
    const bytes = hex('81 a2 00 66 2f312f302f31 03 66 534543524554');
    const error = assertLocatedCodecError(() => decodeSenmlCbor(bytes, PINNED_SERVER_PATH), 'TYPE_MISMATCH', { field: '/1/0/1' });
    assert.doesNotMatch(error.message, /SECRET/);
    const duplicate = assertLocatedCodecError(() => decodeSenmlCbor(hex('81 a2 66 534543524554 00 66 534543524554 00'), {}), 'DUPLICATE');
    assert.doesNotMatch(duplicate.message, /SECRET/);
  });
});

describe('SenML-CBOR: properties', () => {
  it('every value type round-trips exactly, declared by the model', () => {
    assertEveryTypeRoundTrips(senmlCborCodec);
  });
  const decodeAtObject = (bytes: Uint8Array): ContentTree => decodeSenmlCbor(bytes, { objectId: 0 });
  it('random bytes: a tree or a CodecError', () => {
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 64 }), decodeAtObject);
  });
  it('random CBOR-like items: a tree or a CodecError', () => {
    // Heads that SenML-CBOR uses, so that more inputs get past the first bytes.
    const piece = fc.constantFrom('81', '82', 'a1', 'a2', 'a3', '9f', 'bf', 'ff', '00', '02', '03', '08', '20', '21', '0b', '61 30', '65 2f302f312f', '63 766c6f', '63 313a32', 'f4', 'fb 4008000000000000', '1b ffffffffffffffff', '41 00', 'c4');
    assertOnlyCodecErrors(fc.array(piece, { maxLength: 30 }).map((pieces) => hex(...pieces)), decodeAtObject);
  });
  it('valid payloads with bytes flipped, cut or inserted: a tree or a CodecError', () => {
    const payloads = objectTreeArbitrary(SECURITY_OBJECT).map((content) => encodeSenmlCbor(content, { objectId: 0 }));
    assertOnlyCodecErrors(mutatedBytes(payloads, 3), decodeAtObject, 1000);
  });
});
