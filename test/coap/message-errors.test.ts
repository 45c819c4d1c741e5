import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoapCode } from '../../shared/coap/code.ts';
import { parseCoapHeader } from '../../shared/coap/header.ts';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { isCodecError } from '../../shared/errors.ts';
import { ascii, assertCodecError, concat, hex } from './bytes.ts';

const parse = (text: string) => () => parseCoapMessage(hex(text));
// CON GET, Message ID 0x0001, TKL 0: the prefix of most malformed datagrams below.
const CON_GET = '40 01 00 01';

describe('parseCoapMessage: header and token (RFC 7252 3.)', () => {
  it('rejects a datagram shorter than the header', () => {
    assertCodecError(parse(''), 'TRUNCATED', { offset: 0 });
    assertCodecError(parse('40 01 00'), 'TRUNCATED', { offset: 3 });
    assert.equal(parseCoapHeader(hex('40 01 00')), undefined);
  });

  it('rejects versions other than 1, and parseCoapHeader says ignore them', () => {
    for (const first of ['00', '80', 'c0']) {
      assertCodecError(parse(`${first} 01 00 01`), 'UNSUPPORTED', { offset: 0, field: 'Ver' });
      assert.equal(parseCoapHeader(hex(`${first} 01 00 01`)), undefined);
    }
  });

  it('rejects token lengths 9-15 as a format error; the header is still readable for a Reset', () => {
    for (let tokenLength = 9; tokenLength <= 15; tokenLength++) {
      const datagram = concat(hex(`${(0x40 | tokenLength).toString(16)} 01 12 34`), new Uint8Array(tokenLength));
      assertCodecError(() => parseCoapMessage(datagram), 'MALFORMED', { offset: 0, field: 'TKL' });
      assert.deepStrictEqual(parseCoapHeader(datagram), { type: 'CON', code: 1, messageId: 0x1234, tokenLength });
    }
  });

  it('rejects a token that runs past the end', () => {
    assertCodecError(parse('48 01 00 01 01 02 03'), 'TRUNCATED', { offset: 4, field: 'Token' });
    assert.deepStrictEqual(parseCoapHeader(hex('48 01 00 01 01 02 03')), {
      type: 'CON',
      code: 1,
      messageId: 1,
      tokenLength: 8,
    });
  });

  it('rejects an Empty message with a token, options or payload (RFC 7252 4.1)', () => {
    assertCodecError(parse('41 00 00 01 aa'), 'MALFORMED', { offset: 0 });
    assertCodecError(parse('41 00 00 01'), 'MALFORMED', { offset: 0 }); // TKL 1 even without the byte
    assertCodecError(parse('60 00 00 01 b1 61'), 'MALFORMED', { offset: 4 });
    assertCodecError(parse('70 00 00 01 ff 01'), 'MALFORMED', { offset: 4 });
    assertCodecError(parse('40 00 00 01 ff'), 'MALFORMED', { offset: 4 });
  });
});

describe('parseCoapMessage: option framing (RFC 7252 3.1)', () => {
  it('rejects the reserved nibble 15 in delta or length unless the byte is the payload marker', () => {
    assertCodecError(parse(`${CON_GET} f0`), 'MALFORMED', { offset: 4, field: 'Option Delta' });
    assertCodecError(parse(`${CON_GET} f5 00 00 00 00 00`), 'MALFORMED', { offset: 4, field: 'Option Delta' });
    assertCodecError(parse(`${CON_GET} bf 00`), 'MALFORMED', { offset: 4, field: 'Option Length' });
    assertCodecError(parse(`${CON_GET} b1 61 0f`), 'MALFORMED', { offset: 6, field: 'Option Length' });
  });

  it('rejects truncated extended delta and length bytes', () => {
    assertCodecError(parse(`${CON_GET} d0`), 'TRUNCATED', { offset: 5, field: 'Option Delta' });
    assertCodecError(parse(`${CON_GET} e0 01`), 'TRUNCATED', { offset: 5, field: 'Option Delta' });
    assertCodecError(parse(`${CON_GET} bd`), 'TRUNCATED', { offset: 5, field: 'Option Length' });
    assertCodecError(parse(`${CON_GET} be 00`), 'TRUNCATED', { offset: 5, field: 'Option Length' });
    assertCodecError(parse(`${CON_GET} dd 0a`), 'TRUNCATED', { offset: 6, field: 'Option Length' });
  });

  it('rejects an option value that runs past the end', () => {
    assertCodecError(parse(`${CON_GET} b5 62 73`), 'TRUNCATED', { offset: 4, field: 'Uri-Path' });
    assertCodecError(parse(`${CON_GET} bd 00 62`), 'TRUNCATED', { offset: 4, field: 'Uri-Path' });
  });

  it('rejects a payload marker followed by no payload (RFC 7252 3.)', () => {
    assertCodecError(parse(`${CON_GET} ff`), 'MALFORMED', { offset: 4 });
    assertCodecError(parse(`${CON_GET} b2 62 73 ff`), 'MALFORMED', { offset: 7 });
  });

  it('rejects option numbers beyond 65535', () => {
    // delta 269 + 0xffff = 65804
    assertCodecError(parse(`${CON_GET} e0 ff ff`), 'OUT_OF_RANGE', { offset: 4 });
    // 65535 itself is fine: 269 + 0xfef2
    assert.deepStrictEqual(parseCoapMessage(hex(`${CON_GET} e0 fe f2`)).options.others, [
      { number: 65535, value: new Uint8Array(0) },
    ]);
  });
});

describe('parseCoapMessage: option values (RFC 7252 5.10, RFC 7959 2.2)', () => {
  const cases: [string, string, string][] = [
    ['If-Match longer than 8', '19 0102030405060708 09', 'If-Match'],
    ['Uri-Host empty', '30', 'Uri-Host'],
    ['ETag empty', '40', 'ETag'],
    ['ETag longer than 8', '49 0102030405060708 09', 'ETag'],
    ['If-None-Match with a value', '51 00', 'If-None-Match'],
    ['Observe of 4 bytes', '64 00 00 00 01', 'Observe'],
    ['Uri-Port of 3 bytes', '73 00 16 33', 'Uri-Port'],
    ['Content-Format of 3 bytes', 'c3 00 00 3c', 'Content-Format'],
    ['Max-Age of 5 bytes', 'd5 01 0000000001', 'Max-Age'],
    ['Accept of 3 bytes', 'd3 04 00 00 3c', 'Accept'],
    ['Block2 of 4 bytes', 'd4 0a 00 00 00 06', 'Block2'],
    ['Block1 of 4 bytes', 'd4 0e 00 00 00 06', 'Block1'],
    ['Size2 of 5 bytes', 'd5 0f 00 00 00 00 01', 'Size2'],
    ['Size1 of 5 bytes', 'd5 2f 00 00 00 00 01', 'Size1'],
  ];
  for (const [name, options, field] of cases) {
    it(`rejects ${name}`, () => {
      assertCodecError(parse(`${CON_GET} ${options}`), 'OUT_OF_RANGE', { offset: 4, field });
    });
  }

  it('rejects string options longer than 255 bytes', () => {
    // delta 11 (Uri-Path), length 13 + 243 = 256
    const datagram = concat(hex(`${CON_GET} bd f3`), new Uint8Array(256).fill(0x61));
    assertCodecError(() => parseCoapMessage(datagram), 'OUT_OF_RANGE', { offset: 4, field: 'Uri-Path' });
  });

  it('rejects invalid UTF-8 in string options', () => {
    assertCodecError(parse(`${CON_GET} b1 ff`), 'MALFORMED', { offset: 4, field: 'Uri-Path' });
    assertCodecError(parse(`${CON_GET} b2 c3 28`), 'MALFORMED', { field: 'Uri-Path' }); // bad continuation
    assertCodecError(parse(`${CON_GET} b3 ed a0 80`), 'MALFORMED', { field: 'Uri-Path' }); // encoded surrogate
    assertCodecError(parse(`${CON_GET} b2 c0 80`), 'MALFORMED', { field: 'Uri-Path' }); // overlong NUL
    assertCodecError(parse(`${CON_GET} 31 80`), 'MALFORMED', { field: 'Uri-Host' });
    // delta 13 + 2 = 15 (Uri-Query), length 2: a 3-byte sequence cut short
    assertCodecError(parse(`${CON_GET} d2 02 e2 82`), 'MALFORMED', { offset: 4, field: 'Uri-Query' });
  });

  it('decodes valid multi-byte UTF-8 and keeps a byte order mark', () => {
    const parsed = parseCoapMessage(hex(`${CON_GET} b2 c3 a9 03 ef bb bf`));
    assert.deepStrictEqual(parsed.options.uriPath, ['é', '\uFEFF']);
    assert.deepStrictEqual(serializeCoapMessage(parsed), hex(`${CON_GET} b2 c3 a9 03 ef bb bf`));
  });

  it('rejects Block SZX 7 (reserved; BERT is not supported)', () => {
    // delta 13 + 10 = 23 (Block2), length 1, NUM 0 M 0 SZX 7
    assertCodecError(parse(`${CON_GET} d1 0a 07`), 'MALFORMED', { offset: 4, field: 'Block2' });
    // delta 13 + 14 = 27 (Block1), length 2, NUM 1 M 1 SZX 7
    assertCodecError(parse(`${CON_GET} d2 0e 00 1f`), 'MALFORMED', { offset: 4, field: 'Block1' });
  });

  it('never puts option string values into error messages', () => {
    const secret = ascii('ep=secret-psk-identity');
    const truncated = concat(hex(`${CON_GET} b1 61 4d 0e`), secret.subarray(0, 10));
    // Uri-Host (delta 3) of 13 + 10 = 23 bytes: the secret, then a byte that is never UTF-8
    const invalid = concat(hex(`${CON_GET} 3d 0a`), secret, hex('ff'));
    for (const datagram of [truncated, invalid]) {
      try {
        parseCoapMessage(datagram);
        assert.fail('expected a CodecError');
      } catch (error) {
        assert.ok(isCodecError(error));
        assert.doesNotMatch(error.message, /secret/);
      }
    }
  });
});

describe('serializeCoapMessage: invalid fields', () => {
  const valid: CoapMessage = {
    type: 'CON',
    code: CoapCode.GET,
    messageId: 1,
    token: new Uint8Array(0),
    options: {},
    payload: new Uint8Array(0),
  };
  const serialize = (change: Record<string, unknown>) => () =>
    serializeCoapMessage({ ...valid, ...change } as CoapMessage);
  const withOptions = (options: Record<string, unknown>) => serialize({ options });

  it('checks the header fields', () => {
    assertCodecError(serialize({ type: 'FOO' }), 'MALFORMED', { field: 'type' });
    assertCodecError(serialize({ code: 256 }), 'OUT_OF_RANGE', { field: 'code' });
    assertCodecError(serialize({ code: -1 }), 'OUT_OF_RANGE', { field: 'code' });
    assertCodecError(serialize({ messageId: 65536 }), 'OUT_OF_RANGE', { field: 'messageId' });
    assertCodecError(serialize({ messageId: -1 }), 'OUT_OF_RANGE', { field: 'messageId' });
    assertCodecError(serialize({ messageId: 1.5 }), 'OUT_OF_RANGE', { field: 'messageId' });
    assertCodecError(serialize({ messageId: Number.NaN }), 'OUT_OF_RANGE', { field: 'messageId' });
    assertCodecError(serialize({ token: new Uint8Array(9) }), 'OUT_OF_RANGE', { field: 'token' });
    assertCodecError(serialize({ token: 'abc' }), 'OUT_OF_RANGE', { field: 'token' });
    assertCodecError(serialize({ payload: [1, 2] }), 'TYPE_MISMATCH', { field: 'payload' });
  });

  it('refuses an Empty message with a token, options or payload', () => {
    assertCodecError(serialize({ code: 0, token: hex('01') }), 'MALFORMED', { field: 'code' });
    assertCodecError(serialize({ code: 0, options: { uriPath: ['a'] } }), 'MALFORMED', { field: 'code' });
    assertCodecError(serialize({ code: 0, payload: hex('01') }), 'MALFORMED', { field: 'code' });
    assert.deepStrictEqual(serializeCoapMessage({ ...valid, type: 'RST', code: 0 }), hex('70 00 00 01'));
  });

  it('checks option values against the RFC 7252 5.10 lengths', () => {
    assertCodecError(withOptions({ uriHost: '' }), 'OUT_OF_RANGE', { field: 'Uri-Host' });
    assertCodecError(withOptions({ uriPath: ['a'.repeat(256)] }), 'OUT_OF_RANGE', { field: 'Uri-Path' });
    assertCodecError(withOptions({ uriQuery: ['é'.repeat(128)] }), 'OUT_OF_RANGE', { field: 'Uri-Query' });
    assertCodecError(withOptions({ etag: [new Uint8Array(0)] }), 'OUT_OF_RANGE', { field: 'ETag' });
    assertCodecError(withOptions({ ifMatch: [new Uint8Array(9)] }), 'OUT_OF_RANGE', { field: 'If-Match' });
    assertCodecError(withOptions({ etag: ['abc'] }), 'TYPE_MISMATCH', { field: 'ETag' });
    assertCodecError(withOptions({ ifNoneMatch: 'yes' }), 'TYPE_MISMATCH', { field: 'If-None-Match' });
  });

  it('checks uint options against their byte length', () => {
    assertCodecError(withOptions({ contentFormat: 65536 }), 'OUT_OF_RANGE', { field: 'Content-Format' });
    assertCodecError(withOptions({ accept: -1 }), 'OUT_OF_RANGE', { field: 'Accept' });
    assertCodecError(withOptions({ uriPort: 1.5 }), 'OUT_OF_RANGE', { field: 'Uri-Port' });
    assertCodecError(withOptions({ observe: 2 ** 24 }), 'OUT_OF_RANGE', { field: 'Observe' });
    assertCodecError(withOptions({ maxAge: 2 ** 32 }), 'OUT_OF_RANGE', { field: 'Max-Age' });
    assertCodecError(withOptions({ size1: '1' }), 'OUT_OF_RANGE', { field: 'Size1' });
    assert.deepStrictEqual(
      serializeCoapMessage({ ...valid, options: { maxAge: 2 ** 32 - 1 } }),
      hex(`${CON_GET} d4 01 ff ff ff ff`), // delta 13 + 1 = 14 (Max-Age), 4 bytes
    );
  });

  it('checks Block values', () => {
    assertCodecError(withOptions({ block2: { num: 2 ** 20, more: false, size: 16 } }), 'OUT_OF_RANGE', {
      field: 'Block2',
    });
    assertCodecError(withOptions({ block1: { num: 0, more: false, size: 2048 } }), 'OUT_OF_RANGE', {
      field: 'Block1',
    });
    assertCodecError(withOptions({ block1: { num: 0, more: 1, size: 16 } }), 'TYPE_MISMATCH', { field: 'Block1' });
  });

  it('checks other options', () => {
    const others = (option: Record<string, unknown>) => withOptions({ others: [option] });
    assertCodecError(others({ number: 65536, value: new Uint8Array(0) }), 'OUT_OF_RANGE', { field: 'others[0]' });
    assertCodecError(others({ number: -1, value: new Uint8Array(0) }), 'OUT_OF_RANGE', { field: 'others[0]' });
    assertCodecError(others({ number: 9, value: 'x' }), 'TYPE_MISMATCH', { field: 'others[0]' });
    assertCodecError(others({ number: 9, value: new Uint8Array(65805) }), 'LIMIT_EXCEEDED', {
      field: 'others[0]',
    });
  });

  it('refuses strings with a lone surrogate, which UTF-8 cannot carry', () => {
    assertCodecError(withOptions({ uriPath: ['a\uD800'] }), 'MALFORMED', { field: 'Uri-Path' });
    assertCodecError(withOptions({ uriQuery: ['\uDC00b'] }), 'MALFORMED', { field: 'Uri-Query' });
    assertCodecError(withOptions({ uriPath: [42] }), 'TYPE_MISMATCH', { field: 'Uri-Path' });
  });
});
