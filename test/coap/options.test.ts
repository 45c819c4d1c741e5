import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import {
  OptionNumber,
  isCriticalOption,
  isNoCacheKeyOption,
  isUnsafeOption,
  optionName,
  unrecognizedCriticalOptions,
} from '../../shared/coap/option.ts';
import { hex } from './bytes.ts';

const CON_GET = '40 01 00 01';

describe('repeated non-repeatable options (RFC 7252 5.4.5)', () => {
  it('ignores a supernumerary elective option', () => {
    // Content-Format (12) 60, then again 0: the second is unrecognized and elective
    const parsed = parseCoapMessage(hex(`${CON_GET} c1 3c 00`));
    assert.deepStrictEqual(parsed.options, { contentFormat: 60 });
    assert.deepStrictEqual(unrecognizedCriticalOptions(parsed.options), []);
  });

  it('keeps a supernumerary critical option as unrecognized, for a 4.02 answer', () => {
    // Accept (17) 40, then Accept again 11542
    const parsed = parseCoapMessage(hex(`${CON_GET} d1 04 28 02 2d 16`));
    assert.equal(parsed.options.accept, 40);
    assert.deepStrictEqual(unrecognizedCriticalOptions(parsed.options), [
      { number: OptionNumber.ACCEPT, value: hex('2d 16') },
    ]);
  });

  it('treats a second Uri-Host or Block2 the same way, without checking its value', () => {
    // Uri-Host "a", then an empty Uri-Host (length 0 would be out of range if it counted)
    const host = parseCoapMessage(hex(`${CON_GET} 31 61 00`));
    assert.equal(host.options.uriHost, 'a');
    assert.deepStrictEqual(unrecognizedCriticalOptions(host.options), [
      { number: OptionNumber.URI_HOST, value: new Uint8Array(0) },
    ]);
    // Block2 2:1/0/128, then Block2 with SZX 7
    const block = parseCoapMessage(hex(`${CON_GET} d1 0a 13 01 07`));
    assert.deepStrictEqual(block.options.block2, { num: 1, more: false, size: 128 });
    assert.equal(unrecognizedCriticalOptions(block.options).length, 1);
  });

  it('re-serializes the supernumerary occurrence after the typed one, and that is stable', () => {
    const bytes = hex(`${CON_GET} d1 04 28 02 2d 16`);
    const once = serializeCoapMessage(parseCoapMessage(bytes));
    assert.deepStrictEqual(once, bytes);
    assert.deepStrictEqual(parseCoapMessage(once), parseCoapMessage(bytes));
  });

  it('keeps repeated unknown options in order', () => {
    // option 2048 twice (delta 14 -> 269 + 0x06f3), then 0 delta
    const parsed = parseCoapMessage(hex(`${CON_GET} e1 06 f3 01 01 02`));
    assert.deepStrictEqual(parsed.options.others, [
      { number: 2048, value: hex('01') },
      { number: 2048, value: hex('02') },
    ]);
  });
});

describe('unrecognized options', () => {
  it('reports unknown critical options only (RFC 7252 5.4.1)', () => {
    // OSCORE (9, critical), 10 (elective, unassigned), Proxy-Uri (35, critical)
    const parsed = parseCoapMessage(hex(`${CON_GET} 90 10 d1 0c 61`));
    assert.deepStrictEqual(parsed.options.others, [
      { number: 9, value: new Uint8Array(0) },
      { number: 10, value: new Uint8Array(0) },
      { number: 35, value: hex('61') },
    ]);
    assert.deepStrictEqual(
      unrecognizedCriticalOptions(parsed.options).map((option) => optionName(option.number)),
      ['OSCORE', 'Proxy-Uri'],
    );
  });

  it('classifies option numbers as RFC 7252 5.4.6 Figure 11 does', () => {
    assert.equal(isCriticalOption(OptionNumber.URI_PATH), true);
    assert.equal(isCriticalOption(OptionNumber.CONTENT_FORMAT), false);
    assert.equal(isUnsafeOption(OptionNumber.URI_HOST), true);
    assert.equal(isUnsafeOption(OptionNumber.ETAG), false);
    assert.equal(isNoCacheKeyOption(OptionNumber.SIZE1), true); // 60 = 0b111100
    assert.equal(isNoCacheKeyOption(OptionNumber.SIZE2), true); // 28 = 0b011100
    assert.equal(isNoCacheKeyOption(OptionNumber.ETAG), false);
  });

  it('names options', () => {
    assert.equal(optionName(11), 'Uri-Path');
    assert.equal(optionName(27), 'Block1');
    assert.equal(optionName(258), 'No-Response');
    assert.equal(optionName(2049), 'Option 2049');
  });
});

describe('every typed option', () => {
  it('round-trips through serialize and parse, bytes pinned by hand', () => {
    const message: CoapMessage = {
      type: 'NON',
      code: 0x45,
      messageId: 0xbeef,
      token: hex('0102'),
      options: {
        ifMatch: [hex('aa'), new Uint8Array(0)],
        uriHost: 'h',
        etag: [hex('e1')],
        ifNoneMatch: true,
        observe: 0x123456,
        uriPort: 5683,
        locationPath: ['rd', 'x'],
        uriPath: ['p'],
        contentFormat: 112,
        maxAge: 0,
        uriQuery: ['q'],
        accept: 60,
        locationQuery: ['l'],
        block2: { num: 2, more: true, size: 1024 },
        block1: { num: 0, more: false, size: 16 },
        size2: 300,
        size1: 0x12345678,
      },
      payload: hex('00'),
    };
    const bytes = hex(`
      52 45 be ef 01 02        # NON, TKL 2, 2.05, Message ID 0xbeef, Token
      11 aa                    # If-Match (1) aa
      00                       # If-Match again, empty
      21 68                    # delta 2 (3, Uri-Host) "h"
      11 e1                    # delta 1 (4, ETag) e1
      10                       # delta 1 (5, If-None-Match), empty
      13 12 34 56              # delta 1 (6, Observe) 0x123456
      12 16 33                 # delta 1 (7, Uri-Port) 5683 = 0x1633
      12 72 64                 # delta 1 (8, Location-Path) "rd"
      01 78                    # Location-Path "x"
      31 70                    # delta 3 (11, Uri-Path) "p"
      11 70                    # delta 1 (12, Content-Format) 112 = 0x70
      20                       # delta 2 (14, Max-Age) 0 as the empty value
      11 71                    # delta 1 (15, Uri-Query) "q"
      21 3c                    # delta 2 (17, Accept) 60
      31 6c                    # delta 3 (20, Location-Query) "l"
      31 2e                    # delta 3 (23, Block2) NUM 2, M 1, SZX 6: 0010 1 110
      40                       # delta 4 (27, Block1) NUM 0, M 0, SZX 0: the empty value
      12 01 2c                 # delta 1 (28, Size2) 300 = 0x012c
      d4 13 12 34 56 78        # delta 13 + 19 = 32 (60, Size1) 0x12345678
      ff 00                    # payload marker, payload
    `);
    assert.deepStrictEqual(serializeCoapMessage(message), bytes);
    assert.deepStrictEqual(parseCoapMessage(bytes), message);
  });

  it('writes ifNoneMatch false as no option', () => {
    const message: CoapMessage = {
      type: 'CON',
      code: 1,
      messageId: 1,
      token: new Uint8Array(0),
      options: { ifNoneMatch: false },
      payload: new Uint8Array(0),
    };
    assert.deepStrictEqual(serializeCoapMessage(message), hex(CON_GET));
  });
});
