import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeLinkFormat,
  encodeLinkFormat,
  linkEntriesFromJson,
  parseLinkDocument,
  parseLinkFormat,
  serializeLinkFormat,
  type LinkEntry,
} from '../../shared/content/link-format.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';
import { assertCodecError, assertOnlyCodecErrors, decodedOrCodecError, mutatedBytes } from '../fixtures/codec-assertions.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
// A quoted string cannot carry control characters other than HTAB (RFC 6690 §2, RFC 7230 qdtext).
const hasControlCharacter = (value: string): boolean => [...value].some((char) => (char < ' ' && char !== '\t') || char === '\x7f');

describe('link-format: RFC 6690 §5 example', () => {
  // RFC 6690 §5 "Examples", the /.well-known/core answer; the RFC breaks it into lines only for
  // readability, so the payload is the lines joined.
  const lines = [
    '</sensors>;ct=40;title="Sensor Index",',
    '</sensors/temp>;rt="temperature-c";if="sensor",',
    '</sensors/light>;rt="light-lux";if="sensor",',
    '<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby",',
    '</t>;anchor="/sensors/temp";rel="alternate"',
  ];
  const expected: LinkEntry[] = [
    { target: '/sensors', attributes: [{ name: 'ct', value: '40' }, { name: 'title', value: 'Sensor Index' }] },
    { target: '/sensors/temp', attributes: [{ name: 'rt', value: 'temperature-c' }, { name: 'if', value: 'sensor' }] },
    { target: '/sensors/light', attributes: [{ name: 'rt', value: 'light-lux' }, { name: 'if', value: 'sensor' }] },
    {
      target: 'http://www.example.com/sensors/t123',
      attributes: [{ name: 'anchor', value: '/sensors/temp' }, { name: 'rel', value: 'describedby' }],
    },
    { target: '/t', attributes: [{ name: 'anchor', value: '/sensors/temp' }, { name: 'rel', value: 'alternate' }] },
  ];

  it('parses the joined payload', () => {
    assert.deepStrictEqual(parseLinkFormat(bytes(lines.join(''))), expected);
    assert.deepStrictEqual(decodeLinkFormat(bytes(lines.join(''))), expected);
  });

  it('accepts the line breaks and spaces around separators', () => {
    assert.deepStrictEqual(parseLinkFormat(`  ${lines.join('\r\n ')}\n`), expected);
  });

  it('serializes back to the RFC text when title, rt, if, anchor, rel are quoted', () => {
    const quoted = new Set(['title', 'rt', 'if', 'anchor', 'rel']);
    assert.equal(serializeLinkFormat(expected, { quoted }), lines.join(''));
  });
});

describe('link-format: grammar', () => {
  it('keeps attributes without value, order and repeated names', () => {
    assert.deepStrictEqual(parseLinkFormat('</a>;obs;rt=x;rt=y;ct=40'), [
      {
        target: '/a',
        attributes: [
          { name: 'obs', value: null },
          { name: 'rt', value: 'x' },
          { name: 'rt', value: 'y' },
          { name: 'ct', value: '40' },
        ],
      },
    ]);
  });

  it('reads commas, semicolons, escapes and UTF-8 inside quoted strings', () => {
    assert.deepStrictEqual(parseLinkFormat('</a>;title="x,y;z <\\"q\\"> \\\\ é",</b>'), [
      { target: '/a', attributes: [{ name: 'title', value: 'x,y;z <"q"> \\ é' }] },
      { target: '/b', attributes: [] },
    ]);
  });

  it('reads ptokens with every special character RFC 6690 allows', () => {
    const token = "!#$%&'()*+-./:<=>?@[]^_`{|}~09AZaz";
    assert.deepStrictEqual(parseLinkFormat(`</a>;x=${token}`), [{ target: '/a', attributes: [{ name: 'x', value: token }] }]);
  });

  it('reads ext-name-star attributes (RFC 6690 §2, RFC 5987) raw', () => {
    assert.deepStrictEqual(parseLinkFormat("</a>;title*=UTF-8'en'%C2%A3"), [
      { target: '/a', attributes: [{ name: 'title*', value: "UTF-8'en'%C2%A3" }] },
    ]);
  });

  it('reads targets with commas, semicolons, percent escapes and an empty target', () => {
    assert.deepStrictEqual(parseLinkFormat('</a,b;c%2F>,<>'), [
      { target: '/a,b;c%2F', attributes: [] },
      { target: '', attributes: [] },
    ]);
  });

  it('parses an empty or blank payload as no links', () => {
    assert.deepStrictEqual(parseLinkFormat(new Uint8Array()), []);
    assert.deepStrictEqual(parseLinkFormat(' \r\n'), []);
  });

  it('parses a targetless preamble only when allowed, giving each link its offset', () => {
    const text = 'lwm2m="1.0";x, </0/0>;ssid=101';
    assertCodecError(() => parseLinkFormat(text), 'MALFORMED', { offset: 0 });
    assert.deepStrictEqual(parseLinkDocument(text, { allowPreamble: true }), {
      preamble: [
        { name: 'lwm2m', value: '1.0' },
        { name: 'x', value: null },
      ],
      entries: [{ entry: { target: '/0/0', attributes: [{ name: 'ssid', value: '101' }] }, offset: 15 }],
    });
  });
});

describe('link-format: malformed input throws CodecError with an offset', () => {
  const cases: [string, string, CodecErrorCode, number][] = [
    ['no <', '/a>', 'MALFORMED', 0],
    ['unclosed target', '</a', 'TRUNCATED', 0],
    ['unclosed target after a link', '</a>,</b', 'TRUNCATED', 5],
    ['space in target', '</a b>', 'MALFORMED', 3],
    ['quote in target', '</a">', 'MALFORMED', 3],
    ['bad percent escape', '</%G1>', 'MALFORMED', 2],
    ['short percent escape', '</%4>', 'MALFORMED', 2],
    ['non-ASCII target', '</é>', 'MALFORMED', 2],
    ['trailing comma', '</a>,', 'MALFORMED', 4],
    ['empty link between commas', '</a>,,</b>', 'MALFORMED', 5],
    ['trailing semicolon', '</a>;', 'MALFORMED', 5],
    ['empty attribute name', '</a>;=1', 'MALFORMED', 5],
    ['= without value', '</a>;ct=', 'MALFORMED', 8],
    ['= before comma', '</a>;ct=,</b>', 'MALFORMED', 8],
    ['space inside a token', '</a>;ct=4 0', 'MALFORMED', 10],
    ['space before =', '</a>;ct =40', 'MALFORMED', 8],
    ['garbage after target', '</a>x', 'MALFORMED', 4],
    ['unclosed quote', '</a>;t="abc', 'TRUNCATED', 7],
    ['backslash at the end', '</a>;t="abc\\', 'TRUNCATED', 7],
    ['control character in quotes', '</a>;t="a\x01"', 'MALFORMED', 9],
    ['comma inside a ptoken', '</a>;t=a"b', 'MALFORMED', 8],
  ];
  for (const [name, text, code, offset] of cases) {
    it(name, () => {
      assertCodecError(() => parseLinkFormat(text), code, { offset });
    });
  }

  it('rejects invalid UTF-8 inside a quoted string', () => {
    assertCodecError(() => parseLinkFormat(Uint8Array.from([...bytes('</a>;t="'), 0xc3, 0x28, 0x22])), 'MALFORMED', { offset: 7 });
  });

  it('never echoes payload strings in messages', () => {
    const error = assertCodecError(() => parseLinkFormat('</a>;psk="SECRET-KEY-MATERIAL'), 'TRUNCATED');
    assert.ok(!error.message.includes('SECRET'));
  });
});

describe('link-format: limits', () => {
  it('rejects payloads over maxBytes before parsing', () => {
    assertCodecError(() => parseLinkFormat(bytes('</a>,</b>'), { limits: { maxBytes: 8 } }), 'LIMIT_EXCEEDED', { offset: 8 });
    assertCodecError(() => parseLinkFormat('</a>,</b>', { limits: { maxBytes: 8 } }), 'LIMIT_EXCEEDED', { offset: 8 });
    assert.equal(parseLinkFormat('</a>,</b>', { limits: { maxBytes: 9 } }).length, 2);
  });

  it('rejects more links than maxEntries', () => {
    assertCodecError(() => parseLinkFormat('</a>,</b>,</c>', { limits: { maxEntries: 2 } }), 'LIMIT_EXCEEDED', { offset: 10 });
    assert.equal(parseLinkFormat('</a>,</b>', { limits: { maxEntries: 2 } }).length, 2);
  });

  it('rejects more attributes than maxAttributesPerEntry, in the preamble too', () => {
    assertCodecError(() => parseLinkFormat('</a>;x;y;z', { limits: { maxAttributesPerEntry: 2 } }), 'LIMIT_EXCEEDED', { offset: 9 });
    assertCodecError(() => parseLinkDocument('x;y;z', { allowPreamble: true, limits: { maxAttributesPerEntry: 2 } }), 'LIMIT_EXCEEDED', { offset: 4 });
  });

  it('accepts 4096 links by default and refuses 4097', () => {
    const links = (count: number): string => Array.from({ length: count }, (_, index) => `</${index}>`).join(',');
    assert.equal(parseLinkFormat(links(4096)).length, 4096);
    assertCodecError(() => parseLinkFormat(links(4097)), 'LIMIT_EXCEEDED');
  });
});

describe('link-format: serialize', () => {
  it('writes tokens bare and quotes only what needs it, with escapes', () => {
    const entries: LinkEntry[] = [
      { target: '/0/1', attributes: [{ name: 'ssid', value: '101' }, { name: 'uri', value: 'coaps://a.example' }] },
      { target: '/t', attributes: [{ name: 'title', value: 'a "b" \\c, d' }, { name: 'obs', value: null }, { name: 'e', value: '' }] },
    ];
    // '</0/1>;ssid=101;uri=coaps://a.example,</t>;title="a \"b\" \\c, d";obs;e=""'
    assert.equal(serializeLinkFormat(entries), '</0/1>;ssid=101;uri=coaps://a.example,</t>;title="a \\"b\\" \\\\c, d";obs;e=""');
    assert.equal(serializeLinkFormat(entries.slice(0, 1), { quoted: new Set(['uri']) }), '</0/1>;ssid=101;uri="coaps://a.example"');
    assert.deepStrictEqual(encodeLinkFormat([]), new Uint8Array());
  });

  it('writes a preamble before the first link', () => {
    assert.equal(serializeLinkFormat([{ target: '/0/1', attributes: [] }], { preamble: [{ name: 'lwm2m', value: '1.0' }], quoted: new Set(['lwm2m']) }), 'lwm2m="1.0",</0/1>');
  });

  it('rejects what it cannot write', () => {
    assertCodecError(() => serializeLinkFormat([{ target: '/a b', attributes: [] }]), 'MALFORMED');
    assertCodecError(() => serializeLinkFormat([{ target: '/%zz', attributes: [] }]), 'MALFORMED');
    assertCodecError(() => serializeLinkFormat([{ target: '/a', attributes: [{ name: 'a b', value: null }] }]), 'MALFORMED');
    assertCodecError(() => serializeLinkFormat([{ target: '/a', attributes: [{ name: '', value: null }] }]), 'MALFORMED');
    assertCodecError(() => serializeLinkFormat([{ target: '/a', attributes: [{ name: 'x', value: 'a\nb' }] }]), 'MALFORMED');
    assertCodecError(() => serializeLinkFormat([{ target: '/a', attributes: [{ name: 'x', value: 'a\uD800' }] }]), 'MALFORMED');
  });

  it('checks untyped JSON before encoding it', () => {
    assert.deepStrictEqual(linkEntriesFromJson([{ target: '/a', attributes: [{ name: 'obs' }, { name: 'ct', value: '40' }] }, { target: '/b' }]), [
      { target: '/a', attributes: [{ name: 'obs', value: null }, { name: 'ct', value: '40' }] },
      { target: '/b', attributes: [] },
    ]);
    assertCodecError(() => linkEntriesFromJson({}), 'TYPE_MISMATCH');
    assertCodecError(() => linkEntriesFromJson([{ target: 1 }]), 'TYPE_MISMATCH');
    assertCodecError(() => linkEntriesFromJson([{ target: '/a', attributes: [{ name: 'x', value: 1 }] }]), 'TYPE_MISMATCH');
  });
});

const uriChars = [...'ABCXYZabcxyz0189-._~:/?#[]@!$&\'()*+,;='];
const nameChars = [...'abcXYZ019!#$&+-.^_`|~'];
const linkEntryArbitrary: fc.Arbitrary<LinkEntry> = fc.record({
  target: fc.array(fc.constantFrom(...uriChars), { maxLength: 12 }).map((chars) => chars.join('')),
  attributes: fc.array(
    fc.record({
      name: fc.array(fc.constantFrom(...nameChars), { minLength: 1, maxLength: 6 }).map((chars) => chars.join('')),
      value: fc.option(
        fc.string({ unit: 'grapheme', maxLength: 12 }).filter((value) => !hasControlCharacter(value)),
        { nil: null },
      ),
    }).map(({ name, value }) => ({ name, value })),
    { maxLength: 4 },
  ),
}).map(({ target, attributes }) => ({ target, attributes }));

describe('link-format: properties', () => {
  it('parse(serialize(links)) returns the links', () => {
    fc.assert(
      fc.property(fc.array(linkEntryArbitrary, { maxLength: 6 }), (entries) => {
        assert.deepStrictEqual(parseLinkFormat(encodeLinkFormat(entries)), entries);
      }),
      { numRuns: 1000 },
    );
  });

  const onlyCodecErrors = (input: Uint8Array): void => {
    for (const allowPreamble of [false, true]) decodedOrCodecError(() => parseLinkDocument(input, { allowPreamble }));
  };

  it('random bytes only ever throw CodecError', () => {
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 64 }), onlyCodecErrors);
  });

  it('mutated valid payloads only ever throw CodecError', () => {
    const seed = bytes('</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://x", </0/1/>;t="a\\"b",</3>;ver=1.1;obs');
    assertOnlyCodecErrors(mutatedBytes(fc.constant(seed)), onlyCodecErrors);
  });
});
