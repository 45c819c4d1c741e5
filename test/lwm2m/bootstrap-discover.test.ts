import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCodecError, type CodecError, type CodecErrorCode } from '../../shared/errors.ts';
import {
  bootstrapOscoreInstanceIds,
  bootstrapServerInstanceIds,
  encodeBootstrapDiscover,
  parseBootstrapDiscover,
  type BootstrapDiscoverResult,
  type DiscoveredObject,
} from '../../shared/lwm2m/bootstrap-discover.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
// A quoted string cannot carry control characters other than HTAB (RFC 6690 §2, RFC 7230 qdtext).
const hasControlCharacter = (value: string): boolean => [...value].some((char) => (char < ' ' && char !== '\t') || char === '\x7f');
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);
const parse = (payload: string): BootstrapDiscoverResult => parseBootstrapDiscover(bytes(payload));

function assertCodecError(run: () => unknown, code: CodecErrorCode, offset?: number): CodecError {
  try {
    run();
  } catch (error) {
    assert.ok(isCodecError(error), `expected CodecError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (offset !== undefined) assert.equal(error.offset, offset, error.message);
    return error;
  }
  assert.fail(`expected CodecError ${code}`);
}

const S1 = 'coaps://server_1.example.com';
const S2 = 'coaps://server_2.example.com';

// The four examples of LwM2M Core TS 1.2, Bootstrap Interface, "Bootstrap-Discover Operation"
// (OMA-TS-LightweightM2M_Core-V1_2), copied verbatim with the HTML entities &lt; &gt; undone.
describe('Bootstrap-Discover: LwM2M Core 1.2 examples', () => {
  it('example 1: Discover /0, three accounts, /0/1 is the Bootstrap-Server', () => {
    const result = parse(`</>;lwm2m=1.1,</0/0>;ssid=101;uri="${S1}", </0/1/>, </0/2>;ssid=102;uri="${S2}"`);
    assert.deepStrictEqual(result, {
      lwm2mVersion: '1.1',
      objects: [
        {
          objectId: 0,
          instances: [
            { instanceId: 0, ssid: 101, uri: S1 },
            { instanceId: 1 },
            { instanceId: 2, ssid: 102, uri: S2 },
          ],
        },
      ],
    });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
  });

  it('example 2: Discover /, objects without instances', () => {
    const result = parse(`</>;lwm2m=1.1,</0/0>;ssid=101;uri="${S1}", </0/1>, </1/0/>;ssid=101, </3/0>,</5>,</4>`);
    assert.deepStrictEqual(result, {
      lwm2mVersion: '1.1',
      objects: [
        { objectId: 0, instances: [{ instanceId: 0, ssid: 101, uri: S1 }, { instanceId: 1 }] },
        { objectId: 1, instances: [{ instanceId: 0, ssid: 101 }] },
        { objectId: 3, instances: [{ instanceId: 0 }] },
        { objectId: 4, instances: [] },
        { objectId: 5, instances: [] },
      ],
    });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
  });

  it('example 3: Security and OSCORE, out of order; /21/1 belongs to the Bootstrap-Server', () => {
    const result = parse(
      `</>;lwm2m=1.1,</0/0>;ssid=101;uri="${S1}",</0/2>;ssid=102;uri="coap://server_1.example.com",</21/0>;ssid=101,</21/2>;ssid=102,</0/1>,</21/1/>`,
    );
    assert.deepStrictEqual(result, {
      lwm2mVersion: '1.1',
      objects: [
        {
          objectId: 0,
          instances: [
            { instanceId: 0, ssid: 101, uri: S1 },
            { instanceId: 1 },
            { instanceId: 2, ssid: 102, uri: 'coap://server_1.example.com' },
          ],
        },
        { objectId: 21, instances: [{ instanceId: 0, ssid: 101 }, { instanceId: 1 }, { instanceId: 2, ssid: 102 }] },
      ],
    });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
    assert.deepStrictEqual(bootstrapOscoreInstanceIds(result), [1]);
  });

  it('names no account when several Security instances lack ssid, as older clients answer', () => {
    const result = parse(`lwm2m="1.0",</0/0>,</0/1>,</1/0>,</21/0>`);
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), []);
    assert.deepStrictEqual(bootstrapOscoreInstanceIds(result), []);
  });

  it('example 4: object 55 in version 1.9; /0/0 is the Bootstrap-Server', () => {
    const result = parse(`</>;lwm2m=1.1,</0/0>,</0/1>;ssid=101;uri="${S1}", </1/0/>;ssid=101, </3/0>,</5>,</4>,</55>;ver=1.9,</55/0>`);
    assert.deepStrictEqual(result.objects.at(-1), { objectId: 55, version: '1.9', instances: [{ instanceId: 0 }] });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [0]);
    assert.deepStrictEqual(result.objects.map((object) => object.objectId), [0, 1, 3, 4, 5, 55]);
  });
});

// LwM2M 1.0 answers: Core 1.1 draft (2017) §5.2.7.3 "Bootstrap Discover", omadm/omaoriginal
// TS_Core/OMA-TS-LightweightM2M_Core-V1_1.md, verbatim; the enabler version has no </> target.
describe('Bootstrap-Discover: LwM2M 1.0 answers', () => {
  it('§5.2.7.3 example 1: lwm2m="1.0" before the first link', () => {
    const result = parse('lwm2m="1.0",</0/0>;ssid=101, </0/1/>, </0/2>;ssid=102');
    assert.deepStrictEqual(result, {
      lwm2mVersion: '1.0',
      objects: [{ objectId: 0, instances: [{ instanceId: 0, ssid: 101 }, { instanceId: 1 }, { instanceId: 2, ssid: 102 }] }],
    });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
  });

  it('§5.2.7.3 example 2: Discover /', () => {
    const result = parse('lwm2m="1.0",</0/0>;ssid=101,</0/1>, </1/0/>;ssid=101, </3/0>,</5>,</4>');
    assert.equal(result.lwm2mVersion, '1.0');
    assert.deepStrictEqual(result.objects.map((object) => object.objectId), [0, 1, 3, 4, 5]);
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
  });

  it('§5.2.7.3 example 3: enabler 2.0 with object 55 version 1.9', () => {
    const result = parse('lwm2m="2.0",</0/0>,</0/1>;ssid=101, </1/0/>;ssid=101, </3/0>,</5>,</4>,</55>;ver=1.9, </55/0>');
    assert.equal(result.lwm2mVersion, '2.0');
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [0]);
  });

  it('an answer without any lwm2m attribute', () => {
    const result = parse('</0/0>;ssid=1,</0/1>,</1/0>;ssid=1,</3/0>');
    assert.equal('lwm2mVersion' in result, false);
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [1]);
  });
});

describe('Bootstrap-Discover: the project example', () => {
  // The example of the task brief: quoted versions, object links with ver, and a Bootstrap-Server
  // Security instance that lists its uri but no ssid.
  const payload =
    '</>;lwm2m="1.1",</0>;ver="1.1",</0/0>;uri="coap://bs.example.com",</0/1>;ssid=101;uri="coaps://dm.example.com",</1>;ver="1.1",</1/0>;ssid=101,</3/0>';
  it('parses and finds /0/0 as the Bootstrap-Server account', () => {
    const result = parse(payload);
    assert.deepStrictEqual(result, {
      lwm2mVersion: '1.1',
      objects: [
        {
          objectId: 0,
          version: '1.1',
          instances: [
            { instanceId: 0, uri: 'coap://bs.example.com' },
            { instanceId: 1, ssid: 101, uri: 'coaps://dm.example.com' },
          ],
        },
        { objectId: 1, version: '1.1', instances: [{ instanceId: 0, ssid: 101 }] },
        { objectId: 3, instances: [{ instanceId: 0 }] },
      ],
    });
    assert.deepStrictEqual(bootstrapServerInstanceIds(result), [0]);
    assert.deepStrictEqual(bootstrapOscoreInstanceIds(result), []);
  });

  it('ignores attributes LwM2M does not define here, and compares names case-insensitively', () => {
    const result = parse('</>;lwm2m=1.1;ct=11543;rt="oma.lwm2m",</3>;obs;foo=bar,</3/0>;pmin=10;dim,</0/0>;SSID=7;Uri="u"');
    const expected: DiscoveredObject[] = [
      { objectId: 0, instances: [{ instanceId: 0, ssid: 7, uri: 'u' }] },
      { objectId: 3, instances: [{ instanceId: 0 }] },
    ];
    assert.deepStrictEqual(result.objects, expected);
  });
});

describe('Bootstrap-Discover: errors', () => {
  const cases: [string, string, CodecErrorCode, number?][] = [
    ['ssid 0 is reserved', '</0/0>;ssid=0', 'OUT_OF_RANGE', 0],
    ['ssid 65535 is reserved', '</3/0>,</0/0>;ssid=65535', 'OUT_OF_RANGE', 7],
    ['ssid above 16 bits', '</0/0>;ssid=70000', 'OUT_OF_RANGE'],
    ['negative ssid', '</0/0>;ssid=-1', 'MALFORMED'],
    ['fractional ssid', '</0/0>;ssid=1.5', 'MALFORMED'],
    ['ssid with a leading zero', '</0/0>;ssid=01', 'MALFORMED'],
    ['ssid without value', '</0/0>;ssid', 'MALFORMED'],
    ['uri without value', '</0/0>;uri', 'MALFORMED'],
    ['ssid twice', '</0/0>;ssid=1;ssid=2', 'DUPLICATE'],
    ['instance twice', '</0/0>,</0/0/>', 'DUPLICATE', 7],
    ['object twice', '</3>,</3/>', 'DUPLICATE', 5],
    ['root twice', '</>,</>', 'DUPLICATE', 4],
    ['enabler version twice', 'lwm2m="1.0",</>;lwm2m=1.1', 'DUPLICATE', 12],
    ['resource-level link', '</3/0/1>', 'INVALID_PATH', 0],
    ['object id 65535', '</65535>', 'INVALID_PATH', 0],
    ['instance id 65535', '</1/65535>', 'INVALID_PATH', 0],
    ['relative target', '<0/1>', 'INVALID_PATH', 0],
    ['double slash', '<//>', 'INVALID_PATH', 0],
    ['alternate path', '</rp/0>', 'INVALID_PATH', 0],
    ['leading zero in an id', '</01>', 'INVALID_PATH', 0],
    ['ver not MAJOR.MINOR', '</3>;ver=1', 'MALFORMED'],
    ['lwm2m not MAJOR.MINOR', '</>;lwm2m=one', 'MALFORMED'],
    ['lwm2m without value', '</>;lwm2m', 'MALFORMED'],
    ['syntax error', '</0/0>;ssid=1,', 'MALFORMED'],
  ];
  for (const [name, payload, code, offset] of cases) {
    it(name, () => {
      assertCodecError(() => parse(payload), code, offset);
    });
  }

  it('respects link-format limits', () => {
    assertCodecError(() => parseBootstrapDiscover(bytes('</0/0>,</0/1>'), { maxEntries: 1 }), 'LIMIT_EXCEEDED');
  });

  it('never echoes a uri in a message', () => {
    const error = assertCodecError(() => parse('</0/0>;uri="coaps://secret.example";ssid=0'), 'OUT_OF_RANGE');
    assert.ok(!error.message.includes('secret'));
  });
});

describe('Bootstrap-Discover: encode for simulated clients', () => {
  const example: BootstrapDiscoverResult = {
    lwm2mVersion: '1.1',
    objects: [
      { objectId: 0, instances: [{ instanceId: 0, ssid: 101, uri: S1 }, { instanceId: 1 }, { instanceId: 2, ssid: 102, uri: S2 }] },
      { objectId: 1, instances: [{ instanceId: 0, ssid: 101 }] },
      { objectId: 3, instances: [{ instanceId: 0 }] },
      { objectId: 4, instances: [] },
      { objectId: 55, version: '1.9', instances: [{ instanceId: 0 }] },
    ],
  };

  it('writes the Core 1.2 example 1 and 2 shape (no spaces)', () => {
    assert.equal(
      text(encodeBootstrapDiscover(example)),
      // </> with lwm2m=1.1 | Security instances, uri quoted as in the spec | /1/0 | /3/0 | /4 empty | /55 ver=1.9 then /55/0
      '</>;lwm2m=1.1,' +
        `</0/0>;ssid=101;uri="${S1}",</0/1>,</0/2>;ssid=102;uri="${S2}",` +
        '</1/0>;ssid=101,' +
        '</3/0>,' +
        '</4>,' +
        '</55>;ver=1.9,</55/0>',
    );
    assert.deepStrictEqual(parseBootstrapDiscover(encodeBootstrapDiscover(example)), example);
  });

  it('writes the LwM2M 1.0 form, and none at all without a version', () => {
    const legacy = { lwm2mVersion: '1.0', objects: [{ objectId: 0, instances: [{ instanceId: 0, ssid: 101 }, { instanceId: 1 }] }] };
    assert.equal(text(encodeBootstrapDiscover(legacy, { legacyEnablerVersion: true })), 'lwm2m="1.0",</0/0>;ssid=101,</0/1>');
    assert.equal(text(encodeBootstrapDiscover({ objects: legacy.objects })), '</0/0>;ssid=101,</0/1>');
    assert.equal(text(encodeBootstrapDiscover({ objects: [] })), '');
  });

  it('escapes quotes in uri', () => {
    const result = { objects: [{ objectId: 0, instances: [{ instanceId: 0, ssid: 1, uri: 'a"b\\c' }] }] };
    assert.equal(text(encodeBootstrapDiscover(result)), '</0/0>;ssid=1;uri="a\\"b\\\\c"');
    assert.deepStrictEqual(parseBootstrapDiscover(encodeBootstrapDiscover(result)), result);
  });

  it('rejects what a client could not send', () => {
    const one = (instance: object): BootstrapDiscoverResult => ({ objects: [{ objectId: 0, instances: [{ instanceId: 0, ...instance }] }] });
    assertCodecError(() => encodeBootstrapDiscover(one({ ssid: 0 })), 'OUT_OF_RANGE');
    assertCodecError(() => encodeBootstrapDiscover(one({ ssid: 65535 })), 'OUT_OF_RANGE');
    assertCodecError(() => encodeBootstrapDiscover(one({ ssid: 1.5 })), 'OUT_OF_RANGE');
    assertCodecError(() => encodeBootstrapDiscover(one({ uri: 'a\nb' })), 'MALFORMED');
    assertCodecError(() => encodeBootstrapDiscover({ lwm2mVersion: 'x', objects: [] }), 'MALFORMED');
    assertCodecError(() => encodeBootstrapDiscover({ objects: [{ objectId: 3, version: '1', instances: [] }] }), 'MALFORMED');
    assertCodecError(() => encodeBootstrapDiscover({ objects: [{ objectId: 65535, instances: [] }] }), 'INVALID_PATH');
    assertCodecError(() => encodeBootstrapDiscover({ objects: [{ objectId: 1, instances: [{ instanceId: -1 }] }] }), 'INVALID_PATH');
    assertCodecError(() => encodeBootstrapDiscover({ objects: [{ objectId: 1, instances: [] }, { objectId: 1, instances: [] }] }), 'DUPLICATE');
    assertCodecError(() => encodeBootstrapDiscover({ objects: [{ objectId: 1, instances: [{ instanceId: 0 }, { instanceId: 0 }] }] }), 'DUPLICATE');
  });
});

const id = fc.integer({ min: 0, max: 65534 });
const version = fc.tuple(fc.nat(99), fc.nat(99)).map(([major, minor]) => `${major}.${minor}`);
const resultArbitrary: fc.Arbitrary<BootstrapDiscoverResult> = fc
  .record({
    lwm2mVersion: fc.option(version, { nil: undefined }),
    objects: fc.uniqueArray(
      fc.record({
        objectId: id,
        version: fc.option(version, { nil: undefined }),
        instances: fc.uniqueArray(
          fc.record({
            instanceId: id,
            ssid: fc.option(fc.integer({ min: 1, max: 65534 }), { nil: undefined }),
            uri: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }).filter((uri) => !hasControlCharacter(uri)), { nil: undefined }),
          }),
          { maxLength: 4, selector: (instance) => instance.instanceId },
        ),
      }),
      { maxLength: 5, selector: (object) => object.objectId },
    ),
  })
  .map((result) => JSON.parse(JSON.stringify(result)) as BootstrapDiscoverResult);

const sorted = (result: BootstrapDiscoverResult): BootstrapDiscoverResult => ({
  ...result,
  objects: [...result.objects]
    .sort((a, b) => a.objectId - b.objectId)
    .map((object) => ({ ...object, instances: [...object.instances].sort((a, b) => a.instanceId - b.instanceId) })),
});

describe('Bootstrap-Discover: properties', () => {
  it('parse(encode(result)) returns the result sorted by id, in both enabler-version forms', () => {
    fc.assert(
      fc.property(resultArbitrary, fc.boolean(), (result, legacyEnablerVersion) => {
        assert.deepStrictEqual(parseBootstrapDiscover(encodeBootstrapDiscover(result, { legacyEnablerVersion })), sorted(result));
      }),
      { numRuns: 1000 },
    );
  });

  const onlyCodecErrors = (payload: Uint8Array): void => {
    try {
      parseBootstrapDiscover(payload);
    } catch (error) {
      if (!isCodecError(error)) throw error;
    }
  };

  it('random bytes only ever throw CodecError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), onlyCodecErrors), { numRuns: 2000 });
  });

  it('mutated spec examples only ever throw CodecError', () => {
    const seed = bytes(`</>;lwm2m=1.1,</0/0>;ssid=101;uri="${S1}",</0/2>;ssid=102,</21/0>;ssid=101,</0/1>,</21/1/>,</55>;ver=1.9`);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (mutations) => {
        const mutated = seed.slice();
        for (const [index, byte] of mutations) mutated[index] = byte;
        onlyCodecErrors(mutated);
        onlyCodecErrors(mutated.subarray(0, mutations[0]![0]));
      }),
      { numRuns: 2000 },
    );
  });
});
