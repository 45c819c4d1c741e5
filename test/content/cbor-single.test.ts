import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cborCodec } from '../../shared/content/cbor-single.ts';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent, encodeContent, treeCodecFor } from '../../shared/content/registry.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import type { ResourceValue } from '../../shared/lwm2m/value.ts';
import { booleanValue, corelnkValue, floatValue, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, timeValue, UNSIGNED_MAX, unsignedValue } from '../../shared/lwm2m/value.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, bothWaysFor, hex, mutatedBytes, type ExpectedDetail } from '../fixtures/codec-assertions.ts';
import { PINNED_IDENTITY, PINNED_KEY } from '../fixtures/pinned-instances.ts';
import { ALL_TYPES_PATHS, allTypes, assertSingleValuesRoundTrip } from '../fixtures/test-objects.ts';
import { multiple, objectTree, resourcePath as at, valueTree as one } from '../fixtures/trees.ts';

// Plain CBOR (content format 60, application/cbor): one resource or resource instance value as a
// single CBOR item. LwM2M 1.1 Core lists it among the data formats for single values; the 1.1
// text in omadm/omaoriginal is a 2017 draft that predates the section, so the items below are
// written by hand from RFC 8949 section 3 (head: major type in the top 3 bits, the argument
// inline below 24 or in 1/2/4/8 bytes after additional information 24..27; 0xF4/0xF5 false/true,
// 0xFA/0xFB binary32/binary64) with the data-type mapping LwM2M CBOR uses for its leaves (text
// for string, objlnk "o:i" and corelnk; byte string for opaque; tag 1 over an integer for time).

const bothWays = bothWaysFor(cborCodec);

// The resources of the pinned Security instance /0/1 and Server instance /1/0, one request each.
const SECURITY_URI = hex(`78 1B ${ascii('coaps://dm.example.com:5684')}`); // text, 1-byte length 27
const SECURITY_IDENTITY = hex(`58 18 ${ascii('urn:imei:490154203237518')}`); // bytes, 1-byte length 24
const SECURITY_KEY = hex('50 000102030405060708090A0B0C0D0E0F'); // bytes(16): 0x40 | 16, then 00..0f
const SHORT_SERVER_ID = hex('18 65'); // unsigned, 1-byte argument 101

describe('CBOR: pinned Security /0/1 and Server /1/0 resources', () => {
  bothWays('/0/1/0 Server URI', SECURITY_URI, at(0, 1, 0), one(at(0, 1, 0), stringValue('coaps://dm.example.com:5684')));
  bothWays('/0/1/1 Bootstrap-Server false', hex('F4'), at(0, 1, 1), one(at(0, 1, 1), booleanValue(false)));
  bothWays('/0/1/2 Security Mode 0 (PSK)', hex('00'), at(0, 1, 2), one(at(0, 1, 2), integerValue(0))); // unsigned, inline 0
  bothWays('/0/1/3 PSK identity', SECURITY_IDENTITY, at(0, 1, 3), one(at(0, 1, 3), opaqueValue(PINNED_IDENTITY)));
  bothWays('/0/1/5 Secret Key', SECURITY_KEY, at(0, 1, 5), one(at(0, 1, 5), opaqueValue(PINNED_KEY)));
  bothWays('/0/1/10 Short Server ID', SHORT_SERVER_ID, at(0, 1, 10), one(at(0, 1, 10), integerValue(101)));
  bothWays('/0/1/11 Client Hold Off Time', hex('00'), at(0, 1, 11), one(at(0, 1, 11), integerValue(0)));
  bothWays('/0/1/12 Bootstrap-Server Account Timeout', hex('00'), at(0, 1, 12), one(at(0, 1, 12), integerValue(0)));
  bothWays('/1/0/1 Lifetime', hex('19 01 2C'), at(1, 0, 1), one(at(1, 0, 1), integerValue(300))); // unsigned, 2-byte argument 300
  bothWays('/1/0/7 Binding', hex('61 55'), at(1, 0, 7), one(at(1, 0, 7), stringValue('U'))); // text(1) "U"
  bothWays('/0/1/16/1 a ciphersuite instance', hex('19 C0 2B'), at(0, 1, 16, 1), one(at(0, 1, 16, 1), unsignedValue(0xc02b)));

  it('is registered for content format 60', () => {
    assert.equal(treeCodecFor(ContentFormat.CBOR), cborCodec);
    assert.deepStrictEqual(encodeContent(ContentFormat.CBOR, one(at(0, 1, 5), opaqueValue(PINNED_KEY)), at(0, 1, 5)), SECURITY_KEY);
    assert.deepStrictEqual(decodeContent(ContentFormat.CBOR, SHORT_SERVER_ID, at(0, 1, 10)), one(at(0, 1, 10), integerValue(101)));
  });

  it('copies opaque values out of the payload and hands out plain Uint8Arrays', () => {
    const input = Buffer.from(SECURITY_KEY);
    const decoded = cborCodec.decode(input, at(0, 1, 5));
    input.fill(0);
    assert.deepStrictEqual(decoded, one(at(0, 1, 5), opaqueValue(PINNED_KEY)));
    const resource = decoded[0]!.instances[0]!.resources[0]!;
    assert.ok(resource.kind === 'single' && resource.value.type === 'opaque');
    assert.equal(Object.getPrototypeOf(resource.value.value), Uint8Array.prototype);
  });
});

describe('CBOR: one resource of each type at /13/26', () => {
  const cases: [string, number, ResourceValue, string][] = [
    ['integer -750: negative, 2-byte argument 749', 1, integerValue(-750), '39 02ED'],
    ['integer -2^63: negative, 8-byte argument 2^63 - 1', 1, integerValue(INTEGER_MIN), '3B 7FFFFFFFFFFFFFFF'],
    ['unsigned 2^64 - 1: 8-byte argument', 2, unsignedValue(UNSIGNED_MAX), '1B FFFFFFFFFFFFFFFF'],
    ['float 1.5 fits binary32', 3, floatValue(1.5), 'FA 3FC00000'],
    ['float 0.1 needs binary64', 3, floatValue(0.1), 'FB 3FB999999999999A'],
    ['boolean true', 4, booleanValue(true), 'F5'],
    ['string', 5, stringValue('test'), `64 ${ascii('test')}`],
    ['empty string', 5, stringValue(''), '60'],
    ['opaque 01..05', 6, opaqueValue(Uint8Array.of(1, 2, 3, 4, 5)), '45 0102030405'],
    ['time 1367491215: tag 1, 4-byte argument', 7, timeValue(1367491215), 'C1 1A 5182428F'],
    ['objlnk 66:0 as text', 8, objlnkValue(66, 0), `64 ${ascii('66:0')}`],
    ['corelnk as text', 9, corelnkValue('</3/0>'), `66 ${ascii('</3/0>')}`],
  ];
  for (const [name, resourceId, value, bytes] of cases) {
    bothWays(name, hex(bytes), at(13, 26, resourceId), one(at(13, 26, resourceId), value), allTypes);
  }

  it('reads time without tag 1, integers and half floats for a float resource', () => {
    assert.deepStrictEqual(cborCodec.decode(hex('1A 5182428F'), at(13, 26, 7), allTypes), one(at(13, 26, 7), timeValue(1367491215)));
    assert.deepStrictEqual(cborCodec.decode(hex('02'), at(13, 26, 3), allTypes), one(at(13, 26, 3), floatValue(2)));
    assert.deepStrictEqual(cborCodec.decode(hex('F9 3E00'), at(13, 26, 3), allTypes), one(at(13, 26, 3), floatValue(1.5)));
  });

  it('reads a resource the model does not know by its CBOR type', () => {
    const unknown = (bytes: string, value: ResourceValue): void =>
      assert.deepStrictEqual(cborCodec.decode(hex(bytes), at(9999, 0, 1), () => undefined), one(at(9999, 0, 1), value));
    unknown('39 02ED', integerValue(-750));
    unknown('1B FFFFFFFFFFFFFFFF', unsignedValue(UNSIGNED_MAX)); // above 2^63 - 1: unsigned
    unknown('FA 3FC00000', floatValue(1.5));
    unknown('F4', booleanValue(false));
    unknown(`64 ${ascii('66:0')}`, stringValue('66:0'));
    unknown('42 DEAD', opaqueValue(Uint8Array.of(0xde, 0xad)));
    unknown('C1 00', timeValue(0));
  });
});

describe('CBOR: errors', () => {
  const cases: [string, string, LwM2MPath, CodecErrorCode, ExpectedDetail][] = [
    ['empty payload', '', at(0, 1, 10), 'TRUNCATED', { offset: 0 }],
    ['argument cut short', '19 01', at(1, 0, 1), 'TRUNCATED', { offset: 0 }],
    ['text shorter than its length', `78 1B ${ascii('coaps')}`, at(0, 1, 0), 'TRUNCATED', { offset: 0 }],
    ['two items', '00 00', at(0, 1, 2), 'TRAILING_BYTES', { offset: 1, field: '/0/1/2' }],
    ['text for an integer', `63 ${ascii('101')}`, at(0, 1, 10), 'TYPE_MISMATCH', { offset: 0, field: '/0/1/10' }],
    ['float for an integer', 'FA 3FC00000', at(0, 1, 10), 'TYPE_MISMATCH', { field: '/0/1/10' }],
    ['bytes for a string', `45 ${ascii('coaps')}`, at(0, 1, 0), 'TYPE_MISMATCH', { field: '/0/1/0' }],
    ['text for a boolean', `64 ${ascii('true')}`, at(0, 1, 1), 'TYPE_MISMATCH', { field: '/0/1/1' }],
    ['integer for opaque', '01', at(0, 1, 5), 'TYPE_MISMATCH', { field: '/0/1/5' }],
    ['a value for an executable resource', 'F5', at(1, 0, 4), 'TYPE_MISMATCH', { field: '/1/0/4' }],
    ['an object link that is not "o:i"', `63 ${ascii('1:x')}`, at(13, 26, 8), 'TYPE_MISMATCH', { field: '/13/26/8' }],
    ['an integer beyond 64 signed bits', '1B 8000000000000000', at(1, 0, 1), 'OUT_OF_RANGE', { field: '/1/0/1' }],
    ['a negative unsigned', '20', at(0, 1, 16, 0), 'OUT_OF_RANGE', { field: '/0/1/16/0' }],
    ['an array', '81 00', at(0, 1, 10), 'MALFORMED', { offset: 0 }],
    ['a map', 'A0', at(0, 1, 10), 'MALFORMED', { offset: 0 }],
    ['undefined', 'F7', at(0, 1, 10), 'MALFORMED', { offset: 0 }],
    ['a lone break', 'FF', at(0, 1, 10), 'MALFORMED', { offset: 0 }],
    ['reserved additional information 28', '1C', at(0, 1, 10), 'MALFORMED', { offset: 0 }],
    ['text that is not UTF-8', '62 C328', at(0, 1, 0), 'MALFORMED', { offset: 0 }],
    ['null', 'F6', at(0, 1, 10), 'UNSUPPORTED', { offset: 0 }],
    ['tag 4 decimal fraction', 'C4 82 20 18 2D', at(13, 26, 3), 'UNSUPPORTED', { offset: 0 }],
    ['tag 1 on text', `C1 61 ${ascii('x')}`, at(13, 26, 7), 'UNSUPPORTED', { offset: 1 }],
    ['an indefinite-length text string', `7F 61 ${ascii('U')} FF`, at(1, 0, 7), 'UNSUPPORTED', { offset: 0 }],
  ];
  for (const [name, bytes, path, code, detail] of cases) {
    it(`${name}: ${code}`, () => {
      assertCodecError(() => cborCodec.decode(hex(bytes), path, allTypes), code, detail);
    });
  }

  for (const path of [{}, { objectId: 0 }, { objectId: 0, instanceId: 1 }]) {
    it(`no CBOR value at ${JSON.stringify(path)}: UNSUPPORTED both ways`, () => {
      assertCodecError(() => cborCodec.decode(SHORT_SERVER_ID, path), 'UNSUPPORTED');
      assertCodecError(() => cborCodec.encode(one(at(0, 1, 10), integerValue(101)), path), 'UNSUPPORTED');
    });
  }

  it('never quotes the payload in a message', () => {
    const error = assertCodecError(() => cborCodec.decode(SECURITY_KEY, at(0, 1, 0)), 'TYPE_MISMATCH', { field: '/0/1/0' });
    assert.doesNotMatch(error.message, /0001020304|000102030405/i);
    const text = assertCodecError(() => cborCodec.decode(hex(`66 ${ascii('SECRET')}`), at(0, 1, 5)), 'TYPE_MISMATCH');
    assert.doesNotMatch(text.message, /SECRET/);
  });

  it('payloads beyond the size limit', () => {
    assertCodecError(() => cborCodec.decode(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), at(0, 1, 5)), 'LIMIT_EXCEEDED', { field: '/0/1/5' });
  });

  it('encoder: a multiple resource, a value of another type, out of range, outside the path', () => {
    const ciphersuites = objectTree(0, [[1, [multiple(16, [[0, unsignedValue(0xc0a8)]])]]]);
    assertCodecError(() => cborCodec.encode(ciphersuites, at(0, 1, 16)), 'UNSUPPORTED', { field: '/0/1/16' });
    assertCodecError(() => cborCodec.encode(one(at(0, 1, 10), stringValue('101')), at(0, 1, 10)), 'TYPE_MISMATCH', { field: '/0/1/10' });
    assertCodecError(() => cborCodec.encode(one(at(0, 1, 0), opaqueValue(PINNED_KEY)), at(0, 1, 0)), 'TYPE_MISMATCH', { field: '/0/1/0' });
    assertCodecError(() => cborCodec.encode(one(at(1, 0, 1), integerValue(1n << 63n)), at(1, 0, 1)), 'OUT_OF_RANGE', { field: '/1/0/1' });
    assertCodecError(() => cborCodec.encode(one(at(1, 0, 4), booleanValue(true)), at(1, 0, 4)), 'TYPE_MISMATCH', { field: '/1/0/4' });
    assertCodecError(() => cborCodec.encode(one(at(13, 26, 8), objlnkValue(65536, 0)), at(13, 26, 8), allTypes), 'OUT_OF_RANGE');
    assertCodecError(() => cborCodec.encode(one(at(1, 0, 1), integerValue(1)), at(1, 0, 7)), 'INVALID_PATH');
  });
});

describe('CBOR: properties', () => {
  it('decode(encode(value)) is the value for every type, at resource and resource instance paths', () => {
    assertSingleValuesRoundTrip(cborCodec);
  });

  const paths = [...ALL_TYPES_PATHS, at(13, 26, 10), at(0, 1, 5), at(9999, 0, 0), {}, { objectId: 13, instanceId: 26 }];

  it('random bytes give a tree or a CodecError, for every type', () => {
    assertOnlyCodecErrors(fc.tuple(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 48 })), ([path, bytes]) => cborCodec.decode(bytes, path, allTypes));
  });

  it('mutated pinned payloads give a tree or a CodecError, for every type', () => {
    const payloads = mutatedBytes(fc.constantFrom(SECURITY_URI, SECURITY_IDENTITY, SECURITY_KEY, SHORT_SERVER_ID, hex('C1 1A 5182428F'), hex('FB 3FB999999999999A')));
    assertOnlyCodecErrors(fc.tuple(fc.constantFrom(...paths), payloads), ([path, bytes]) => cborCodec.decode(bytes, path, allTypes));
  });
});
