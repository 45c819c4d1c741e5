import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeTlv, encodeTlv, tlvCodec } from '../../shared/content/tlv.ts';
import type { ResourceTypeLookup } from '../../shared/lwm2m/model.ts';
import { ACCESS_CONTROL_OBJECT } from '../../shared/lwm2m/objects/access-control.ts';
import { DEVICE_OBJECT } from '../../shared/lwm2m/objects/device.ts';
import { OSCORE_OBJECT } from '../../shared/lwm2m/objects/oscore.ts';
import { SECURITY_OBJECT } from '../../shared/lwm2m/objects/security.ts';
import { SERVER_OBJECT } from '../../shared/lwm2m/objects/server.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import type { ResourceType, ResourceValue } from '../../shared/lwm2m/value.ts';
import { booleanValue, floatValue, INTEGER_MAX, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, timeValue, UNSIGNED_MAX, unsignedValue } from '../../shared/lwm2m/value.ts';
import { objectTreeArbitrary } from '../fixtures/arbitraries.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, bothWaysFor, decodedOrCodecError, hex, mutatedBytes } from '../fixtures/codec-assertions.ts';
import { DEVICE_EXAMPLE, DEVICE_EXAMPLE_RESOURCES } from '../fixtures/device-example.ts';
import { PINNED_SECURITY, PINNED_SECURITY_PATH, PINNED_SERVER, PINNED_SERVER_PATH } from '../fixtures/pinned-instances.ts';
import { multiple, objectTree, single } from '../fixtures/trees.ts';

const tree = objectTree;
const bothWays = bothWaysFor(tlvCodec);

// LwM2M Core V1.2 §7.4.3.1 "Single Object Instance Request Example" (Read /3/0, 121 bytes; the
// same bytes are §6.4.3.1 in V1.0.2 and §7.4.3.1 in V1.1). The spec's hex drops the second 'h'
// of "Lightweight" in the Model Number (21 bytes under a length of 0x16); its table gives the
// 22-byte "Lightweight M2M Client", which is what is pinned here.
const DEVICE_RESOURCES = [
  `C8 00 14 ${ascii('Open Mobile Alliance')}`, // 0b11 0 01 000: Resource 0, 8-bit length 20, Manufacturer
  `C8 01 16 ${ascii('Lightweight M2M Client')}`, // Resource 1, length 22, Model Number
  `C8 02 09 ${ascii('345000123')}`, // Resource 2, length 9, Serial Number
  `C3 03 ${ascii('1.0')}`, // 0b11 0 00 011: Resource 3, inline length 3, Firmware Version
  '86 06', // 0b10 0 00 110: Multiple Resource 6 (Available Power Sources), 6 bytes follow
  '41 00 01', //   0b01 0 00 001: Resource Instance 0 = 1
  '41 01 05', //   Resource Instance 1 = 5
  '88 07 08', // 0b10 0 01 000: Multiple Resource 7 (Power Source Voltage), 8-bit length 8
  '42 00 0E D8', //   0b01 0 00 010: Resource Instance 0 = 3800
  '42 01 13 88', //   Resource Instance 1 = 5000
  '87 08', // Multiple Resource 8 (Power Source Current), 7 bytes
  '41 00 7D', //   Resource Instance 0 = 125
  '42 01 03 84', //   Resource Instance 1 = 900
  'C1 09 64', // Resource 9, Battery Level = 100
  'C1 0A 0F', // Resource 10, Memory Free = 15
  '83 0B', // Multiple Resource 11 (Error Code), 3 bytes
  '41 00 00', //   Resource Instance 0 = 0
  'C4 0D 51 82 42 8F', // 0b11 0 00 100: Resource 13, Current Time = 1367491215 (time, 32-bit)
  `C6 0E ${ascii('+02:00')}`, // Resource 14, UTC Offset
  `C1 10 ${ascii('U')}`, // Resource 16, Supported Binding and Modes
];
const DEVICE_INSTANCE = DEVICE_EXAMPLE_RESOURCES;
const DEVICE_TREE = DEVICE_EXAMPLE;

// LwM2M Core V1.2 §7.4.3.2 A) "Request on Single-Instance Object" (Read /3, 124 bytes): the
// same resources inside Object Instance TLV 0.
const DEVICE_OBJECT_BYTES = hex(
  '08 00 79', // 0b00 0 01 000: Object Instance 0, 8-bit length 121
  ...DEVICE_RESOURCES,
);

// LwM2M Core V1.2 §7.4.3.2 B) "Request on Multiple-Instance Object having 2 instances" (Read /2,
// 38 bytes). Byte for byte as printed.
const ACCESS_CONTROL_BYTES = hex(
  '08 00 0E', // Object Instance 0, length 14
  'C1 00 01', //   Resource 0, Object ID = 1
  'C1 01 00', //   Resource 1, Object Instance ID = 0
  '83 02', //   Multiple Resource 2 (ACL), 3 bytes
  '41 7F 07', //     Resource Instance 127 = 0b111
  'C1 03 7F', //   Resource 3, Access Control Owner = 127
  '08 02 12', // Object Instance 2, length 18
  'C1 00 03', //   Object ID = 3
  'C1 01 00', //   Object Instance ID = 0
  '87 02', //   Multiple Resource 2 (ACL), 7 bytes
  '41 7F 07', //     Resource Instance 127 = 7
  '61 01 36 01', //     0b01 1 00 001: Resource Instance, 16-bit id 310 = 1
  'C1 03 7F', //   Access Control Owner = 127
);
const ACCESS_CONTROL_TREE = tree(2, [
  [0, [single(0, integerValue(1)), single(1, integerValue(0)), multiple(2, [[127, integerValue(7)]]), single(3, integerValue(127))]],
  [
    2,
    [
      single(0, integerValue(3)),
      single(1, integerValue(0)),
      multiple(2, [[127, integerValue(7)], [310, integerValue(1)]]),
      single(3, integerValue(127)),
    ],
  ],
]);

// LwM2M Core V1.2 §7.4.3.2 C) "Request on Multiple-Instance Object having 1 instance only"
// (Read /1, 18 bytes). The spec prints the Object Instance length as 0D, but its 4 resources
// take 3 + 6 + 3 + 3 = 15 bytes and it states an 18-byte total: the length is 0F.
const SERVER_OBJECT_BYTES = hex(
  '08 00 0F', // Object Instance 0, length 15 (spec: 0D, see above)
  'C1 00 01', //   Resource 0, Short Server ID = 1
  'C4 01 00 01 51 80', //   Resource 1, Lifetime = 86400 (32-bit)
  'C1 06 01', //   Resource 6, Notification Storing = true
  `C1 07 ${ascii('U')}`, //   Resource 7, Binding = "U"
);
const SERVER_OBJECT_TREE = tree(1, [
  [0, [single(0, integerValue(1)), single(1, integerValue(86400)), single(6, booleanValue(true)), single(7, stringValue('U'))]],
]);

// Objects 65 and 66 of the spec's "Object link Resource simple illustration" are not
// registered; their types come from the example's own table.
const LINK_EXAMPLE_TYPES: ResourceTypeLookup = (objectId, resourceId) =>
  (({ 65: ['objlnk', 'string', 'integer'], 66: ['string', 'string', 'objlnk'] }) as Record<number, ResourceType[]>)[objectId]?.[resourceId];

// LwM2M Core V1.2 §7.4.3.3 Example 1) "Request to Object 65 Instance 0: Read /65/0" (37 bytes).
const OBJECT_65_BYTES = hex(
  '88 00 0C', // Multiple Resource 0, 8-bit length 12
  '44 00 00 42 00 00', //   Resource Instance 0 = objlnk 66:0
  '44 01 00 42 00 01', //   Resource Instance 1 = objlnk 66:1
  `C8 01 0D ${ascii('8613800755500')}`, // Resource 1, length 13, string
  'C4 02 12 34 56 78', // Resource 2, 32-bit integer 0x12345678
);
const OBJECT_65_TREE = tree(65, [
  [
    0,
    [multiple(0, [[0, objlnkValue(66, 0)], [1, objlnkValue(66, 1)]]), single(1, stringValue('8613800755500')), single(2, integerValue(0x12345678))],
  ],
]);

// LwM2M Core V1.2 §7.4.3.3 Example 2) "Request to Object 66: Read /66". The spec prints each
// Object Instance length as 23 (35), miscounting Resource 1 as 15 bytes with its header; the
// resources take 14 + 18 + 6 = 38 bytes, so the length is 26.
const OBJECT_66_BYTES = hex(
  '08 00 26', // Object Instance 0, length 38 (spec: 23, see above)
  `C8 00 0B ${ascii('myService 1')}`, //   Resource 0, length 11
  `C8 01 0F ${ascii('Internet.15.234')}`, //   Resource 1, length 15
  'C4 02 00 43 00 00', //   Resource 2, objlnk 67:0
  '08 01 26', // Object Instance 1, length 38
  `C8 00 0B ${ascii('myService 2')}`,
  `C8 01 0F ${ascii('Internet.15.235')}`,
  'C4 02 FF FF FF FF', //   Resource 2, the null link MAX_ID:MAX_ID
);
const OBJECT_66_TREE = tree(66, [
  [0, [single(0, stringValue('myService 1')), single(1, stringValue('Internet.15.234')), single(2, objlnkValue(67, 0))]],
  [1, [single(0, stringValue('myService 2')), single(1, stringValue('Internet.15.235')), single(2, objlnkValue(65535, 65535))]],
]);

// The bootstrap fixtures, by hand from the TLV table of §7.4.3 and the TLV column of the Data
// Types appendix. /0/1 is written at the instance level, so no Object Instance TLV.
const PINNED_SECURITY_BYTES = hex(
  `C8 00 1B ${ascii('coaps://dm.example.com:5684')}`, // Resource 0 (Server URI), 8-bit length 27
  'C1 01 00', // Resource 1 (Bootstrap-Server), boolean false
  'C1 02 00', // Resource 2 (Security Mode), integer 0 (PSK)
  `C8 03 18 ${ascii('urn:imei:490154203237518')}`, // Resource 3 (identity), opaque, length 24
  'C8 05 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F', // Resource 5 (Secret Key), opaque, length 16
  'C1 0A 65', // Resource 10 (Short Server ID), integer 101
  'C1 0B 00', // Resource 11 (Client Hold Off Time), integer 0
  'C1 0C 00', // Resource 12 (Bootstrap-Server Account Timeout), integer 0
);
const PINNED_SERVER_BYTES = hex(
  'C1 00 65', // Resource 0 (Short Server ID), integer 101
  'C2 01 01 2C', // 0b11 0 00 010: Resource 1 (Lifetime), 16-bit integer 300
  `C1 07 ${ascii('U')}`, // Resource 7 (Binding), "U"
);

describe('TLV pinned vectors', () => {
  bothWays('Core 7.4.3.1 Device /3/0', hex(...DEVICE_RESOURCES), { objectId: 3, instanceId: 0 }, DEVICE_TREE);
  bothWays('Core 7.4.3.2 A) Device /3', DEVICE_OBJECT_BYTES, { objectId: 3 }, DEVICE_TREE);
  bothWays('Core 7.4.3.2 B) Access Control /2', ACCESS_CONTROL_BYTES, { objectId: 2 }, ACCESS_CONTROL_TREE);
  bothWays('Core 7.4.3.2 C) Server /1', SERVER_OBJECT_BYTES, { objectId: 1 }, SERVER_OBJECT_TREE);
  bothWays('Core 7.4.3.3 Example 1) /65/0', OBJECT_65_BYTES, { objectId: 65, instanceId: 0 }, OBJECT_65_TREE, LINK_EXAMPLE_TYPES);
  bothWays('Core 7.4.3.3 Example 2) /66', OBJECT_66_BYTES, { objectId: 66 }, OBJECT_66_TREE, LINK_EXAMPLE_TYPES);
  bothWays('PINNED_SECURITY /0/1', PINNED_SECURITY_BYTES, PINNED_SECURITY_PATH, PINNED_SECURITY);
  bothWays('PINNED_SERVER /1/0', PINNED_SERVER_BYTES, PINNED_SERVER_PATH, PINNED_SERVER);

  // Single rows of the Core 7.4.3.1 table, requested on their own.
  bothWays('Manufacturer /3/0/0', hex(DEVICE_RESOURCES[0]!), { objectId: 3, instanceId: 0, resourceId: 0 }, tree(3, [[0, [DEVICE_INSTANCE[0]!]]]));
  bothWays('Available Power Sources /3/0/6', hex('86 06', '41 00 01', '41 01 05'), { objectId: 3, instanceId: 0, resourceId: 6 }, tree(3, [[0, [DEVICE_INSTANCE[4]!]]]));
  bothWays('Available Power Sources[1] /3/0/6/1', hex('41 01 05'), { objectId: 3, instanceId: 0, resourceId: 6, resourceInstanceId: 1 }, tree(3, [[0, [multiple(6, [[1, integerValue(5)]])]]]));

  it('the codec object is encodeTlv/decodeTlv', () => {
    assert.deepStrictEqual(tlvCodec.decode(PINNED_SERVER_BYTES, PINNED_SERVER_PATH), PINNED_SERVER);
    assert.deepStrictEqual(tlvCodec.encode(PINNED_SERVER, PINNED_SERVER_PATH), PINNED_SERVER_BYTES);
  });
});

describe('TLV forms the decoder accepts but the encoder does not write', () => {
  it('an Object Instance TLV around the resources at /o/i', () => {
    assert.deepStrictEqual(decodeTlv(DEVICE_OBJECT_BYTES, { objectId: 3, instanceId: 0 }), DEVICE_TREE);
  });
  it('bare Resource Instance TLVs at /o/i/r', () => {
    assert.deepStrictEqual(decodeTlv(hex('41 01 05', '41 00 01'), { objectId: 3, instanceId: 0, resourceId: 6 }), tree(3, [[0, [DEVICE_INSTANCE[4]!]]]));
  });
  it('a length field where the inline length would do, with bits 2-0 ignored', () => {
    // 0b11 0 01 111: 8-bit length field 1; the spec says bits 2-0 MUST be ignored.
    assert.deepStrictEqual(decodeTlv(hex('CF 09 01 64'), { objectId: 3, instanceId: 0, resourceId: 9 }), tree(3, [[0, [single(9, integerValue(100))]]]));
  });
  it('non-shortest integers, an empty Multiple Resource and empty instances', () => {
    const path = { objectId: 3, instanceId: 0 };
    assert.deepStrictEqual(decodeTlv(hex('C8 09 08 00 00 00 00 00 00 00 64', '80 0B'), path), tree(3, [[0, [single(9, integerValue(100)), multiple(11, [])]]]));
    assert.deepStrictEqual(decodeTlv(hex('08 01 00', '08 00 00'), { objectId: 1 }), tree(1, [[0, []], [1, []]]));
    assert.deepStrictEqual(decodeTlv(new Uint8Array(0), { objectId: 1 }), [{ id: 1, instances: [] }]);
  });
});

// A made-up object whose resources have every type, for the header and value edge cases.
const TEST_TYPES: ResourceTypeLookup = (objectId, resourceId) =>
  objectId === 9999
    ? (['integer', 'unsigned', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'string', 'corelnk', 'none'] as const)[resourceId]
    : undefined;
const AT = (resourceId: number): LwM2MPath => ({ objectId: 9999, instanceId: 0, resourceId });

describe('TLV headers and values', () => {
  const cases: [string, number, ResourceValue, string][] = [
    ['integer -1 in 1 byte', 0, integerValue(-1), 'C1 00 FF'],
    ['integer 127 in 1 byte', 0, integerValue(127), 'C1 00 7F'],
    ['integer 128 in 2 bytes', 0, integerValue(128), 'C2 00 00 80'],
    ['integer -129 in 2 bytes', 0, integerValue(-129), 'C2 00 FF 7F'],
    ['integer 32768 in 4 bytes', 0, integerValue(32768), 'C4 00 00 00 80 00'],
    ['integer 2^31 in 8 bytes', 0, integerValue(2n ** 31n), 'C8 00 08 00 00 00 00 80 00 00 00'],
    ['integer min in 8 bytes', 0, integerValue(INTEGER_MIN), 'C8 00 08 80 00 00 00 00 00 00 00'],
    ['integer max in 8 bytes', 0, integerValue(INTEGER_MAX), 'C8 00 08 7F FF FF FF FF FF FF FF'],
    ['unsigned 255 in 1 byte', 1, unsignedValue(255), 'C1 01 FF'],
    ['unsigned 256 in 2 bytes', 1, unsignedValue(256), 'C2 01 01 00'],
    ['unsigned 2^32 in 8 bytes', 1, unsignedValue(2n ** 32n), 'C8 01 08 00 00 00 01 00 00 00 00'],
    ['unsigned max in 8 bytes', 1, unsignedValue(UNSIGNED_MAX), 'C8 01 08 FF FF FF FF FF FF FF FF'],
    ['float 1.5 as binary32', 2, floatValue(1.5), 'C4 02 3F C0 00 00'],
    ['float 0.1 as binary64', 2, floatValue(0.1), 'C8 02 08 3F B9 99 99 99 99 99 9A'],
    ['float -0 as binary32', 2, floatValue(-0), 'C4 02 80 00 00 00'],
    ['boolean true', 3, booleanValue(true), 'C1 03 01'],
    ['empty opaque', 4, opaqueValue(new Uint8Array(0)), 'C0 04'],
    ['time before 1970', 5, timeValue(-1), 'C1 05 FF'],
    ['objlnk 3:0', 6, objlnkValue(3, 0), 'C4 06 00 03 00 00'],
    ['empty string', 7, stringValue(''), 'C0 07'],
    ['string starting with U+FEFF', 7, stringValue('\uFEFFA'), 'C4 07 EF BB BF 41'],
    ['corelnk', 8, { type: 'corelnk', value: '</3/0>' }, `C6 08 ${ascii('</3/0>')}`],
  ];
  for (const [name, resourceId, value, bytes] of cases) {
    bothWays(name, hex(bytes), AT(resourceId), tree(9999, [[0, [single(resourceId, value)]]]), TEST_TYPES);
  }

  it('16-bit identifiers and 16- and 24-bit length fields', () => {
    const path: LwM2MPath = { objectId: 9999, instanceId: 300 };
    const small = new Uint8Array(300).fill(0xaa);
    const large = new Uint8Array(70000).fill(0xbb);
    const expected = tree(9999, [[300, [single(4, opaqueValue(small)), single(1000, opaqueValue(large))]]]);
    const bytes = hex(
      `D0 04 01 2C ${'AA'.repeat(300)}`, // 0b11 0 10 000: Resource 4, 16-bit length 300
      `F8 03 E8 01 11 70 ${'BB'.repeat(70000)}`, // 0b11 1 11 000: 16-bit id 1000, 24-bit length 70000
    );
    assert.deepStrictEqual(encodeTlv(expected, path, TEST_TYPES), bytes);
    assert.deepStrictEqual(decodeTlv(bytes, path, TEST_TYPES), expected);
    assert.deepStrictEqual(encodeTlv(tree(9999, [[300, []]]), { objectId: 9999 }), hex('20 01 2C')); // 0b00 1 00 000: Object Instance, 16-bit id 300, empty
  });

  it('unknown resources decode as opaque, and opaque values are copies', () => {
    const bytes = hex('C2 07 01 02');
    const decoded = decodeTlv(bytes, { objectId: 4242, instanceId: 0 });
    assert.deepStrictEqual(decoded, tree(4242, [[0, [single(7, opaqueValue(Uint8Array.of(1, 2)))]]]));
    bytes[2] = 9;
    assert.deepStrictEqual(decoded, tree(4242, [[0, [single(7, opaqueValue(Uint8Array.of(1, 2)))]]]));
  });

  it('NaN takes binary64 and comes back NaN', () => {
    const encoded = encodeTlv(tree(9999, [[0, [single(2, floatValue(NaN))]]]), AT(2), TEST_TYPES);
    assert.equal(encoded.length, 2 + 1 + 8);
    const value = decodeTlv(encoded, AT(2), TEST_TYPES)[0]!.instances[0]!.resources[0]!;
    assert.ok(value.kind === 'single' && value.value.type === 'float' && Number.isNaN(value.value.value));
  });
});

describe('TLV decode errors', () => {
  const device = { objectId: 3, instanceId: 0 };
  const battery = { objectId: 3, instanceId: 0, resourceId: 9 };

  it('root path is UNSUPPORTED both ways', () => {
    assertCodecError(() => decodeTlv(hex('C1 09 64'), {}), 'UNSUPPORTED');
    assertCodecError(() => encodeTlv(DEVICE_TREE, {}), 'UNSUPPORTED');
  });
  it('truncated header', () => {
    assertCodecError(() => decodeTlv(hex('C8'), device), 'TRUNCATED', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('C1 09 64 E1 00'), device), 'TRUNCATED', { offset: 3 }); // 16-bit id cut short
    assertCodecError(() => decodeTlv(hex('D8 09 00 00'), device), 'TRUNCATED', { offset: 0 }); // 24-bit length cut short
    assertCodecError(() => decodeTlv(new Uint8Array(0), battery), 'TRUNCATED', { offset: 0 });
  });
  it('length beyond the input', () => {
    assertCodecError(() => decodeTlv(hex('C8 00 14 4F 70'), device), 'TRUNCATED', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('DB 00 FF FF FF 00'), device), 'TRUNCATED', { offset: 0 });
  });
  it('length beyond the enclosing TLV', () => {
    assertCodecError(() => decodeTlv(hex('82 06 41 00', 'C1 09 64'), device), 'MALFORMED', { offset: 2 });
    assertCodecError(() => decodeTlv(hex('08 00 02 C1 09', '08 01 00'), { objectId: 3 }), 'MALFORMED', { offset: 3 });
  });
  it('trailing bytes after the single TLV a resource path allows', () => {
    assertCodecError(() => decodeTlv(hex('C1 09 64 00'), battery), 'TRAILING_BYTES', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('C1 09 64 C1 0A 0F'), battery), 'TRAILING_BYTES', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('41 01 05 41 00 01'), { ...battery, resourceId: 6, resourceInstanceId: 1 }), 'TRAILING_BYTES', { offset: 3 });
  });
  it('nesting deeper than Object Instance > Multiple Resource > Resource Instance', () => {
    assertCodecError(() => decodeTlv(hex('08 00 05', '08 00 02 C0 09'), { objectId: 3 }), 'MALFORMED', { offset: 3, field: '/3/0' });
    assertCodecError(() => decodeTlv(hex('85 06', '83 00 41 00 01'), device), 'MALFORMED', { offset: 2, field: '/3/0/6' });
    assertCodecError(() => decodeTlv(hex('83 06', 'C1 00 01'), device), 'MALFORMED', { offset: 2 });
    assertCodecError(() => decodeTlv(hex('83 06', '01 00 01'), device), 'MALFORMED', { offset: 2 });
  });
  it('duplicate ids', () => {
    assertCodecError(() => decodeTlv(hex('C1 09 64', 'C1 09 65'), device), 'DUPLICATE', { offset: 3, field: '/3/0/9' });
    assertCodecError(() => decodeTlv(hex('C1 09 64', '81 09 00'), device), 'DUPLICATE', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('08 00 00', '08 00 00'), { objectId: 1 }), 'DUPLICATE', { offset: 3, field: '/1/0' });
    assertCodecError(() => decodeTlv(hex('86 06 41 00 01 41 00 05'), device), 'DUPLICATE', { offset: 5, field: '/3/0/6/0' });
    assertCodecError(() => decodeTlv(hex('41 00 01 41 00 05'), { ...device, resourceId: 6 }), 'DUPLICATE', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('08 00 00', '08 00 00'), device), 'DUPLICATE', { offset: 3 });
  });
  it('bad boolean', () => {
    const server = { objectId: 1, instanceId: 0, resourceId: 6 };
    assertCodecError(() => decodeTlv(hex('C1 06 02'), server), 'TYPE_MISMATCH', { offset: 2, field: '/1/0/6' });
    assertCodecError(() => decodeTlv(hex('C2 06 00 01'), server), 'TYPE_MISMATCH', { field: '/1/0/6' });
  });
  it('bad UTF-8, without echoing the payload', () => {
    const bytes = hex(`C8 00 08 ${ascii('secret')} C3 28`);
    const error = assertCodecError(() => decodeTlv(bytes, device), 'TYPE_MISMATCH', { offset: 3, field: '/3/0/0' });
    assert.doesNotMatch(error.message, /secret/);
    assertCodecError(() => decodeTlv(hex('C3 0E ED A0 80'), device), 'TYPE_MISMATCH'); // an encoded surrogate
  });
  it('wrong length for the declared type names the path', () => {
    assertCodecError(() => decodeTlv(hex('C3 09 00 00 64'), device), 'TYPE_MISMATCH', { field: '/3/0/9' });
    assertCodecError(() => decodeTlv(hex('C0 09'), device), 'TYPE_MISMATCH', { field: '/3/0/9' });
    assertCodecError(() => decodeTlv(hex('C3 02 00 00 00'), AT(2), TEST_TYPES), 'TYPE_MISMATCH', { field: '/9999/0/2' });
    assertCodecError(() => decodeTlv(hex('C3 06 00 00 00'), AT(6), TEST_TYPES), 'TYPE_MISMATCH', { field: '/9999/0/6' });
    assertCodecError(() => decodeTlv(hex('C5 01 00 00 00 00 00'), AT(1), TEST_TYPES), 'TYPE_MISMATCH', { field: '/9999/0/1' });
    assertCodecError(() => decodeTlv(hex('C1 09 00'), AT(9), TEST_TYPES), 'TYPE_MISMATCH', { field: '/9999/0/9' }); // executable
  });
  it('TLVs at the wrong level', () => {
    // Core 7.4.3: without an instance id in the request "the Object Instance TLV MUST be used".
    assertCodecError(() => decodeTlv(hex('C1 09 64'), { objectId: 3 }), 'MALFORMED', { offset: 0, field: '/3' });
    assertCodecError(() => decodeTlv(hex('08 00 00', 'C1 09 64'), { objectId: 3 }), 'MALFORMED', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('41 00 01'), device), 'MALFORMED', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('08 00 03 C1 09 64'), battery), 'MALFORMED', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('41 00 01', 'C1 06 01'), { ...device, resourceId: 6 }), 'MALFORMED', { offset: 3 });
    assertCodecError(() => decodeTlv(hex('83 06 41 01 05'), { ...device, resourceId: 6, resourceInstanceId: 1 }), 'MALFORMED', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('08 00 03 C1 09 64', 'C1 0A 0F'), device), 'MALFORMED', { offset: 6 });
  });
  it('ids other than the request path', () => {
    assertCodecError(() => decodeTlv(hex('C1 0A 0F'), battery), 'INVALID_PATH', { offset: 0, field: '/3/0/9' });
    assertCodecError(() => decodeTlv(hex('08 01 03 C1 09 64'), device), 'INVALID_PATH', { offset: 0 });
    assertCodecError(() => decodeTlv(hex('41 00 01'), { ...device, resourceId: 6, resourceInstanceId: 1 }), 'INVALID_PATH');
    assertCodecError(() => decodeTlv(hex('08 00 00', '08 01 00'), device), 'MALFORMED', { offset: 3 });
  });
  it('the reserved id 65535', () => {
    assertCodecError(() => decodeTlv(hex('E1 FF FF 00'), device), 'OUT_OF_RANGE', { offset: 0 });
  });
  it('payload and value-count limits', () => {
    assertCodecError(() => decodeTlv(new Uint8Array(1024 * 1024 + 1), { objectId: 1 }), 'LIMIT_EXCEEDED');
    // Two instances of 32769 empty opaque resources each: 65538 values.
    const instance = new Uint8Array(32769 * 3);
    for (let id = 0; id < 32769; id++) instance.set([0xe0, id >> 8, id & 0xff], id * 3);
    const header = (id: number) => [0x18, id, (instance.length >> 16) & 0xff, (instance.length >> 8) & 0xff, instance.length & 0xff];
    const bytes = Uint8Array.from([...header(0), ...instance, ...header(1), ...instance]);
    assertCodecError(() => decodeTlv(bytes, { objectId: 4242 }), 'LIMIT_EXCEEDED');
  });
});

describe('TLV encode errors', () => {
  const battery: LwM2MPath = { objectId: 3, instanceId: 0, resourceId: 9 };
  it('a value whose type does not fit the declared type', () => {
    assertCodecError(() => encodeTlv(tree(3, [[0, [single(9, stringValue('100'))]]]), battery), 'TYPE_MISMATCH', { field: '/3/0/9' });
    assertCodecError(() => encodeTlv(tree(3, [[0, [single(9, unsignedValue(1))]]]), battery), 'TYPE_MISMATCH');
    assertCodecError(() => encodeTlv(tree(3, [[0, [single(4, opaqueValue(new Uint8Array(0)))]]]), { ...battery, resourceId: 4 }), 'TYPE_MISMATCH');
  });
  it('numbers and ids out of range', () => {
    assertCodecError(() => encodeTlv(tree(3, [[0, [single(9, integerValue(INTEGER_MAX + 1n))]]]), battery), 'OUT_OF_RANGE');
    assertCodecError(() => encodeTlv(tree(9999, [[0, [single(1, unsignedValue(-1))]]]), AT(1), TEST_TYPES), 'OUT_OF_RANGE');
    assertCodecError(() => encodeTlv(tree(9999, [[0, [single(6, objlnkValue(65536, 0))]]]), AT(6), TEST_TYPES), 'OUT_OF_RANGE');
    assertCodecError(() => encodeTlv(tree(1, [[65535, []]]), { objectId: 1 }), 'OUT_OF_RANGE');
  });
  it('a string with a lone surrogate', () => {
    assertCodecError(() => encodeTlv(tree(3, [[0, [single(0, stringValue('a\uD800'))]]]), { ...battery, resourceId: 0 }), 'TYPE_MISMATCH');
  });
  it('a tree that does not match the request path', () => {
    assertCodecError(() => encodeTlv(DEVICE_TREE, { objectId: 3, instanceId: 1 }), 'INVALID_PATH');
  });
});

describe('TLV properties', () => {
  const paths: LwM2MPath[] = [
    { objectId: 3 },
    { objectId: 3, instanceId: 0 },
    { objectId: 3, instanceId: 0, resourceId: 6 },
    { objectId: 3, instanceId: 0, resourceId: 6, resourceInstanceId: 1 },
    { objectId: 0, instanceId: 1 },
    { objectId: 1 },
    { objectId: 4242, instanceId: 0, resourceId: 1 },
  ];

  /** Decodes, and when that works, checks that the encoder's output decodes to the same tree. */
  function decodeOrCodecError([bytes, path]: [Uint8Array, LwM2MPath]): void {
    const decoded = decodedOrCodecError(() => decodeTlv(bytes, path));
    if (decoded !== undefined) assert.deepStrictEqual(decodeTlv(encodeTlv(decoded, path), path), decoded);
  }

  it('random bytes only ever throw CodecError', () => {
    assertOnlyCodecErrors(fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...paths)), decodeOrCodecError);
  });

  const VALID: [Uint8Array, LwM2MPath][] = [
    [DEVICE_OBJECT_BYTES, { objectId: 3 }],
    [ACCESS_CONTROL_BYTES, { objectId: 2 }],
    [SERVER_OBJECT_BYTES, { objectId: 1 }],
    [PINNED_SECURITY_BYTES, PINNED_SECURITY_PATH],
    [hex('86 06 41 00 01 41 01 05'), { objectId: 3, instanceId: 0, resourceId: 6 }],
  ];
  it('mutated valid payloads only ever throw CodecError', () => {
    const inputs = fc.constantFrom(...VALID).chain(([valid, path]) => mutatedBytes(fc.constant(valid)).map((bytes): [Uint8Array, LwM2MPath] => [bytes, path]));
    assertOnlyCodecErrors(inputs, decodeOrCodecError);
  });

  for (const object of [SECURITY_OBJECT, SERVER_OBJECT, ACCESS_CONTROL_OBJECT, DEVICE_OBJECT, OSCORE_OBJECT]) {
    it(`decode(encode(tree)) is the tree for random /${object.id} instances`, () => {
      fc.assert(
        fc.property(objectTreeArbitrary(object), (generated) => {
          // fc.record builds null-prototype objects, which deepStrictEqual tells apart from ours.
          const objectTree = structuredClone(generated);
          assert.deepStrictEqual(decodeTlv(encodeTlv(objectTree, { objectId: object.id }), { objectId: object.id }), objectTree);
        }),
        { numRuns: 100 },
      );
    });
  }
});
