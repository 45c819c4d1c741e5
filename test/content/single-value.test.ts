import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64, encodeBase64 } from '../../shared/content/base64.ts';
import { DecodeLimits } from '../../shared/content/codec.ts';
import { opaqueCodec } from '../../shared/content/opaque.ts';
import { formatDecimal, textPlainCodec } from '../../shared/content/text-plain.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';
import type { ResourceTypeLookup } from '../../shared/lwm2m/model.ts';
import type { LwM2MPath } from '../../shared/lwm2m/path.ts';
import { booleanValue, floatValue, INTEGER_MAX, INTEGER_MIN, integerValue, objlnkValue, opaqueValue, stringValue, timeValue, UNSIGNED_MAX, unsignedValue, type ResourceValue } from '../../shared/lwm2m/value.ts';
import { assertCodecError, assertOnlyCodecErrors, bothWaysFor } from '../fixtures/codec-assertions.ts';
import { PINNED_IDENTITY, PINNED_KEY } from '../fixtures/pinned-instances.ts';
import { ALL_TYPES_PATHS, allTypes, assertSingleValuesRoundTrip } from '../fixtures/test-objects.ts';
import { resourcePath, valueTree } from '../fixtures/trees.ts';

// text/plain follows the "Text Format" column of LwM2M Core Appendix C (Data Types), whose
// examples are pinned below; opaque is the bytes themselves (Core 6.4.2). Both were read from
// omadm/omaoriginal TS_Core/Appendix_C.md and OMA-TS-LightweightM2M_Core-V1_1.md.

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const at = resourcePath;
const one = valueTree;
const testTypes = allTypes;

const bothWays = bothWaysFor(textPlainCodec);
function textBothWays(name: string, payload: string, path: LwM2MPath, value: ResourceValue, types?: ResourceTypeLookup): void {
  bothWays(`${name}: "${payload.length > 40 ? `${payload.slice(0, 40)}...` : payload}"`, payload, path, one(path, value), types);
}

describe('text/plain: the specification examples', () => {
  textBothWays('6.4.1 Read /3/0/0', 'Open Mobile Alliance', at(3, 0, 0), stringValue('Open Mobile Alliance'));
  textBothWays('Appendix C integer', '-750', at(13, 26, 1), integerValue(-750), testTypes);
  textBothWays('Appendix C float 6.667e-11', '0.00000000006667', at(13, 26, 3), floatValue(6.667e-11), testTypes);
  textBothWays('Appendix C opaque 01 02 03 04 05', 'AQIDBAU=', at(13, 26, 6), opaqueValue(Uint8Array.of(1, 2, 3, 4, 5)), testTypes);
  textBothWays('Appendix C time (Tuesday, 11-Oct-16 11:50:13 UTC)', '1476186613', at(3, 0, 13), timeValue(1476186613));
  textBothWays('Appendix C boolean true', '1', at(1, 0, 6), booleanValue(true));
  textBothWays('Appendix C objlnk', '66:0', at(1, 0, 10), objlnkValue(66, 0));
});

describe('text/plain: pinned Security /0/1 and Server /1/0 resources', () => {
  textBothWays('/0/1/0 Server URI', 'coaps://dm.example.com:5684', at(0, 1, 0), stringValue('coaps://dm.example.com:5684'));
  textBothWays('/0/1/1 Bootstrap-Server false', '0', at(0, 1, 1), booleanValue(false));
  textBothWays('/0/1/3 identity as Base64', 'dXJuOmltZWk6NDkwMTU0MjAzMjM3NTE4', at(0, 1, 3), opaqueValue(PINNED_IDENTITY));
  textBothWays('/0/1/5 key as Base64 of 00..0f', 'AAECAwQFBgcICQoLDA0ODw==', at(0, 1, 5), opaqueValue(PINNED_KEY));
  textBothWays('/0/1/10 Short Server ID', '101', at(0, 1, 10), integerValue(101));
  textBothWays('/1/0/1 Lifetime', '300', at(1, 0, 1), integerValue(300));
  textBothWays('/1/0/7 Binding', 'U', at(1, 0, 7), stringValue('U'));
  textBothWays('/0/1/16/0 a ciphersuite instance', '49320', at(0, 1, 16, 0), unsignedValue(0xc0a8));
  textBothWays('64-bit extremes', '-9223372036854775808', at(13, 26, 1), integerValue(INTEGER_MIN), testTypes);
  textBothWays('unsigned maximum', '18446744073709551615', at(13, 26, 2), unsignedValue(UNSIGNED_MAX), testTypes);
  textBothWays('empty string', '', at(1, 0, 7), stringValue(''));
  textBothWays('unknown resources read as string', '42', at(9, 0, 0), stringValue('42'), () => undefined);

  it('reads other spellings of numbers', () => {
    assert.deepStrictEqual(textPlainCodec.decode(text('+0300'), at(1, 0, 1)), one(at(1, 0, 1), integerValue(300)));
    assert.deepStrictEqual(textPlainCodec.decode(text('6.667e-11'), at(13, 26, 3), testTypes), one(at(13, 26, 3), floatValue(6.667e-11)));
    assert.deepStrictEqual(textPlainCodec.decode(text('.5'), at(13, 26, 3), testTypes), one(at(13, 26, 3), floatValue(0.5)));
  });

  it('keeps a leading byte order mark as part of a string', () => {
    assert.deepStrictEqual(textPlainCodec.decode(Uint8Array.of(0xef, 0xbb, 0xbf, 0x55), at(1, 0, 7)), one(at(1, 0, 7), stringValue('\ufeffU')));
  });
});

describe('text/plain: decimal notation of floats', () => {
  const cases: [number, string][] = [
    [6.667e-11, '0.00000000006667'],
    [1.5e-7, '0.00000015'],
    [1e21, '1000000000000000000000'],
    [-2.5e30, '-2500000000000000000000000000000'],
    [123.456, '123.456'],
    [0, '0'],
  ];
  for (const [value, printed] of cases) it(`${value} prints as ${printed}`, () => assert.equal(formatDecimal(value, '/'), printed));

  it('every finite double reads back from its decimal text', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const printed = formatDecimal(value, '/');
        assert.match(printed, /^-?[0-9]+(\.[0-9]+)?$/);
        assert.equal(Number(printed), value === 0 ? 0 : value);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('text/plain: Base64', () => {
  it('agrees with Node on random bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const encoded = encodeBase64(bytes);
        assert.equal(encoded, Buffer.from(bytes).toString('base64'));
        assert.deepStrictEqual(decodeBase64(encoded, '/'), bytes);
      }),
      { numRuns: 1000 },
    );
  });

  for (const bad of ['AQIDBAU', 'AQIDBA=U', 'AQID BAU=', 'AQIDBAV=', 'AQIDBB==', '====', 'AQ==AQ==', '-_8=']) {
    it(`refuses "${bad}"`, () => {
      assertCodecError(() => decodeBase64(bad, '/0/1/5'), 'TYPE_MISMATCH', { field: '/0/1/5' });
    });
  }
});

describe('text/plain: errors', () => {
  const cases: [string, string, LwM2MPath, CodecErrorCode][] = [
    ['integer with letters', '12a', at(1, 0, 1), 'TYPE_MISMATCH'],
    ['integer with a fraction', '1.0', at(1, 0, 1), 'TYPE_MISMATCH'],
    ['integer with spaces', ' 300', at(1, 0, 1), 'TYPE_MISMATCH'],
    ['integer beyond 64 bits', '9223372036854775809', at(1, 0, 1), 'OUT_OF_RANGE'],
    ['very long integer', '9'.repeat(5000), at(1, 0, 1), 'OUT_OF_RANGE'],
    ['negative unsigned', '-1', at(0, 1, 16, 0), 'OUT_OF_RANGE'],
    ['boolean spelled out', 'true', at(1, 0, 6), 'TYPE_MISMATCH'],
    ['boolean 2', '2', at(1, 0, 6), 'TYPE_MISMATCH'],
    ['float word', 'NaN', at(13, 26, 3), 'TYPE_MISMATCH'],
    ['float overflow', '1e400', at(13, 26, 3), 'OUT_OF_RANGE'],
    ['objlnk without colon', '66', at(1, 0, 10), 'TYPE_MISMATCH'],
    ['objlnk beyond 16 bits', '65536:0', at(1, 0, 10), 'OUT_OF_RANGE'],
    ['opaque that is not Base64', 'not base64!', at(0, 1, 5), 'TYPE_MISMATCH'],
    ['value for an executable resource', '1', at(1, 0, 4), 'TYPE_MISMATCH'],
  ];
  for (const [name, payload, path, code] of cases) {
    it(`${name}: ${code}`, () => {
      const error = assertCodecError(() => textPlainCodec.decode(text(payload), path, testTypes), code);
      assert.ok(payload.length < 3 || !error.message.includes(payload), 'the message repeats the value');
    });
  }

  it('bytes that are not UTF-8', () => {
    assertCodecError(() => textPlainCodec.decode(Uint8Array.of(0xc3, 0x28), at(1, 0, 7)), 'MALFORMED', { field: '/1/0/7' });
  });
  it('payloads beyond the size limit', () => {
    assertCodecError(() => textPlainCodec.decode(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), at(1, 0, 7)), 'LIMIT_EXCEEDED');
  });

  for (const path of [{}, { objectId: 1 }, { objectId: 1, instanceId: 0 }]) {
    it(`no text form at ${JSON.stringify(path)}: UNSUPPORTED`, () => {
      assertCodecError(() => textPlainCodec.decode(text('1'), path), 'UNSUPPORTED');
      assertCodecError(() => textPlainCodec.encode(one(at(1, 0, 1), integerValue(1)), path), 'UNSUPPORTED');
    });
  }

  it('encoder: a multiple resource, a value of another type, NaN, outside the path', () => {
    const ciphersuites: ContentTree = [{ id: 0, instances: [{ id: 1, resources: [{ kind: 'multiple', id: 16, instances: [{ id: 0, value: unsignedValue(1) }] }] }] }];
    assertCodecError(() => textPlainCodec.encode(ciphersuites, at(0, 1, 16)), 'UNSUPPORTED', { field: '/0/1/16' });
    assertCodecError(() => textPlainCodec.encode(one(at(1, 0, 1), stringValue('300')), at(1, 0, 1)), 'TYPE_MISMATCH', { field: '/1/0/1' });
    assertCodecError(() => textPlainCodec.encode(one(at(13, 26, 3), floatValue(Number.NaN)), at(13, 26, 3), testTypes), 'OUT_OF_RANGE');
    assertCodecError(() => textPlainCodec.encode(one(at(1, 0, 1), integerValue(1)), at(1, 0, 7)), 'INVALID_PATH');
  });
});

describe('opaque', () => {
  it('/0/1/5 Secret Key: the 16 bytes as they are, both ways', () => {
    assert.deepStrictEqual(opaqueCodec.decode(PINNED_KEY, at(0, 1, 5)), one(at(0, 1, 5), opaqueValue(PINNED_KEY)));
    assert.deepStrictEqual(opaqueCodec.encode(one(at(0, 1, 5), opaqueValue(PINNED_KEY)), at(0, 1, 5)), PINNED_KEY);
  });

  it('/0/1/3 identity, empty values, and unknown resources', () => {
    assert.deepStrictEqual(opaqueCodec.decode(PINNED_IDENTITY, at(0, 1, 3)), one(at(0, 1, 3), opaqueValue(PINNED_IDENTITY)));
    assert.deepStrictEqual(opaqueCodec.decode(new Uint8Array(0), at(0, 1, 4)), one(at(0, 1, 4), opaqueValue(new Uint8Array(0))));
    assert.deepStrictEqual(opaqueCodec.decode(Uint8Array.of(7), at(9, 0, 0, 3)), one(at(9, 0, 0, 3), opaqueValue(Uint8Array.of(7))));
  });

  it('copies: the tree does not share memory with the payload, nor the payload with the tree', () => {
    const input = Buffer.from(PINNED_KEY);
    const decoded = opaqueCodec.decode(input, at(0, 1, 5));
    input.fill(0xff);
    assert.deepStrictEqual(decoded, one(at(0, 1, 5), opaqueValue(PINNED_KEY)));
    const source = Uint8Array.from(PINNED_KEY);
    const encoded = opaqueCodec.encode(one(at(0, 1, 5), opaqueValue(source)), at(0, 1, 5));
    source.fill(0);
    assert.deepStrictEqual(encoded, PINNED_KEY);
  });

  it('a resource of another type: TYPE_MISMATCH both ways', () => {
    assertCodecError(() => opaqueCodec.decode(text('coaps://x'), at(0, 1, 0)), 'TYPE_MISMATCH', { field: '/0/1/0' });
    assertCodecError(() => opaqueCodec.encode(one(at(0, 1, 0), stringValue('coaps://x')), at(0, 1, 0)), 'TYPE_MISMATCH', { field: '/0/1/0' });
    assertCodecError(() => opaqueCodec.encode(one(at(9, 0, 0), stringValue('x')), at(9, 0, 0)), 'TYPE_MISMATCH', { field: '/9/0/0' });
  });

  it('only at resource paths, and within the size limit', () => {
    assertCodecError(() => opaqueCodec.decode(PINNED_KEY, { objectId: 0, instanceId: 1 }), 'UNSUPPORTED', { field: '/0/1' });
    assertCodecError(() => opaqueCodec.decode(new Uint8Array(DecodeLimits.maxPayloadBytes + 1), at(0, 1, 5)), 'LIMIT_EXCEEDED');
  });
});

describe('text/plain and opaque: properties', () => {
  it('decode(encode(value)) is the value for every type', () => {
    assertSingleValuesRoundTrip(textPlainCodec);
  });

  it('random bytes give a tree or a CodecError, for every type and both formats', () => {
    const paths = [...ALL_TYPES_PATHS, at(13, 26, 10), {}, { objectId: 13, instanceId: 26 }];
    const inputs = fc.tuple(fc.constantFrom(...paths), fc.constantFrom(textPlainCodec, opaqueCodec), fc.uint8Array({ maxLength: 48 }));
    assertOnlyCodecErrors(inputs, ([path, codec, bytes]) => codec.decode(bytes, path, testTypes));
  });

  it('integer texts beyond 2^53 keep every digit', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INTEGER_MIN, max: INTEGER_MAX }), (value) => {
        const path = at(13, 26, 1);
        assert.deepStrictEqual(textPlainCodec.decode(text(value.toString()), path, testTypes), one(path, integerValue(value)));
      }),
      { numRuns: 500 },
    );
  });
});
