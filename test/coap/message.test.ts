import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoapCode } from '../../shared/coap/code.ts';
import { parseCoapHeader } from '../../shared/coap/header.ts';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import { queryParameters, uriPathString } from '../../shared/coap/uri.ts';
import { ascii, concat, hex } from './bytes.ts';

const NO_BYTES = new Uint8Array(0);

/** Both directions: the hand-written bytes parse to `message`, and `message` writes those bytes. */
function assertVector(bytes: Uint8Array, message: CoapMessage): void {
  assert.deepStrictEqual(parseCoapMessage(bytes), message);
  assert.deepStrictEqual(serializeCoapMessage(message), bytes);
}

describe('RFC 7252 Appendix A examples', () => {
  it('Figure 16: CON GET /temperature, empty token (16 bytes)', () => {
    const bytes = hex(`
      40                                 # Ver 1 (01), T CON (00), TKL 0 (0000)
      01                                 # Code 0.01 GET
      7d 34                              # Message ID 0x7d34
      bb                                 # Option Delta 11 (Uri-Path), Length 11
      74 65 6d 70 65 72 61 74 75 72 65   # "temperature"
    `);
    assert.equal(bytes.length, 16);
    assertVector(bytes, {
      type: 'CON',
      code: CoapCode.GET,
      messageId: 0x7d34,
      token: NO_BYTES,
      options: { uriPath: ['temperature'] },
      payload: NO_BYTES,
    });
  });

  it('Figure 16: piggybacked ACK 2.05 "22.3 C" (11 bytes)', () => {
    const bytes = hex(`
      60                  # Ver 1, T ACK (10), TKL 0
      45                  # Code 2.05 = 69 = 010 00101
      7d 34               # Message ID echoed
      ff                  # payload marker
      32 32 2e 33 20 43   # "22.3 C"
    `);
    assert.equal(bytes.length, 11);
    assertVector(bytes, {
      type: 'ACK',
      code: CoapCode.CONTENT,
      messageId: 0x7d34,
      token: NO_BYTES,
      options: {},
      payload: ascii('22.3 C'),
    });
  });

  it('Figure 17: the same with Token 0x20 (17 and 12 bytes)', () => {
    const request = hex(`
      41                                 # Ver 1, CON, TKL 1
      01 7d 35                           # GET, Message ID 0x7d35
      20                                 # Token
      bb 74 65 6d 70 65 72 61 74 75 72 65
    `);
    const response = hex(`
      61                                 # Ver 1, ACK, TKL 1
      45 7d 35                           # 2.05, Message ID 0x7d35
      20                                 # Token
      ff 32 32 2e 33 20 43
    `);
    assert.equal(request.length, 17);
    assert.equal(response.length, 12);
    const token = hex('20');
    assertVector(request, {
      type: 'CON',
      code: CoapCode.GET,
      messageId: 0x7d35,
      token,
      options: { uriPath: ['temperature'] },
      payload: NO_BYTES,
    });
    assertVector(response, {
      type: 'ACK',
      code: CoapCode.CONTENT,
      messageId: 0x7d35,
      token,
      options: {},
      payload: ascii('22.3 C'),
    });
  });

  it('Figure 20: Empty ACK, separate CON 2.05 and its Empty ACK', () => {
    const empty = (type: CoapMessage['type'], messageId: number): CoapMessage => ({
      type,
      code: CoapCode.EMPTY,
      messageId,
      token: NO_BYTES,
      options: {},
      payload: NO_BYTES,
    });
    assertVector(hex('60 00 7d 38'), empty('ACK', 0x7d38)); // ACK, 0.00, MID 0x7d38
    assertVector(hex('41 45 ad 7b 53 ff 32 32 2e 33 20 43'), {
      type: 'CON', // 41: CON, TKL 1; 45: 2.05; MID 0xad7b; Token 0x53
      code: CoapCode.CONTENT,
      messageId: 0xad7b,
      token: hex('53'),
      options: {},
      payload: ascii('22.3 C'),
    });
    assertVector(hex('60 00 ad 7b'), empty('ACK', 0xad7b));
  });

  it('Figure 21: the client rejects an unexpected CON with a Reset', () => {
    // 70: Ver 1, T RST (11), TKL 0; 0.00; MID 0xad7c
    assertVector(hex('70 00 ad 7c'), {
      type: 'RST',
      code: CoapCode.EMPTY,
      messageId: 0xad7c,
      token: NO_BYTES,
      options: {},
      payload: NO_BYTES,
    });
  });
});

describe('RFC 7959 block-wise examples', () => {
  const body = new Uint8Array(128).fill(0x2a);

  it('Figure 2: ACK [MID=1234], 2.05 Content, 2:0/1/128', () => {
    const bytes = concat(
      hex(`
        60 45 04 d2   # ACK, TKL 0, 2.05, Message ID 1234 = 0x04d2
        d1 0a         # delta 13+10 = 23 (Block2), length 1
        0b            # NUM 0, M 1, SZX 3 (128): 0000 1 011
        ff            # payload marker
      `),
      body,
    );
    assertVector(bytes, {
      type: 'ACK',
      code: CoapCode.CONTENT,
      messageId: 1234,
      token: NO_BYTES,
      options: { block2: { num: 0, more: true, size: 128 } },
      payload: body,
    });
  });

  it('Figure 2: CON [MID=1235], GET, /status, 2:1/0/128', () => {
    const bytes = hex(`
      40 01 04 d3                 # CON, TKL 0, GET, Message ID 1235
      b6 73 74 61 74 75 73        # delta 11 (Uri-Path), length 6, "status"
      c1 13                       # delta 12 (11 + 12 = 23, Block2), length 1; NUM 1, M 0, SZX 3
    `);
    assertVector(bytes, {
      type: 'CON',
      code: CoapCode.GET,
      messageId: 1235,
      token: NO_BYTES,
      options: { uriPath: ['status'], block2: { num: 1, more: false, size: 128 } },
      payload: NO_BYTES,
    });
  });

  it('3.2 simple atomic PUT: CON [MID=1234], PUT, /options, 1:0/1/128 and ACK 2.31 Continue', () => {
    const request = concat(
      hex(`
        40 03 04 d2                 # CON, TKL 0, PUT, Message ID 1234
        b7 6f 70 74 69 6f 6e 73     # Uri-Path (11), length 7, "options"
        d1 03 0b                    # delta 13+3 = 16 (11 + 16 = 27, Block1), length 1; 1:0/1/128
        ff
      `),
      body,
    );
    assertVector(request, {
      type: 'CON',
      code: CoapCode.PUT,
      messageId: 1234,
      token: NO_BYTES,
      options: { uriPath: ['options'], block1: { num: 0, more: true, size: 128 } },
      payload: body,
    });
    const response = hex(`
      60 5f 04 d2                   # ACK, TKL 0, 2.31 = 010 11111, Message ID 1234
      d1 0e 0b                      # delta 13+14 = 27 (Block1), length 1; 1:0/1/128
    `);
    assertVector(response, {
      type: 'ACK',
      code: CoapCode.CONTINUE,
      messageId: 1234,
      token: NO_BYTES,
      options: { block1: { num: 0, more: true, size: 128 } },
      payload: NO_BYTES,
    });
  });
});

describe('LwM2M Bootstrap-Request', () => {
  // LwM2M 1.1 Transport, Bootstrap interface mapping: POST /bs?ep={Endpoint Client Name}&pct={Preferred Content Format}
  const bytes = hex(`
    44                                  # Ver 1 (01), T CON (00), TKL 4 (0100)
    02                                  # Code 0.02 POST
    00 01                               # Message ID 1
    a1 b2 c3 d4                         # Token
    b2                                  # Option Delta 11 (Uri-Path), Length 2
    62 73                               # "bs"
    4d 0e                               # Delta 4 (11 + 4 = 15, Uri-Query), Length 13 + 14 = 27
    65 70 3d                            # "ep="
    75 72 6e 3a 69 6d 65 69 3a          # "urn:imei:"
    34 39 30 31 35 34 32 30 33 32 33 37 35 31 38   # "490154203237518"
    07                                  # Delta 0 (Uri-Query again), Length 7
    70 63 74 3d 31 31 32                # "pct=112"
  `);
  const message: CoapMessage = {
    type: 'CON',
    code: CoapCode.POST,
    messageId: 1,
    token: hex('a1b2c3d4'),
    options: { uriPath: ['bs'], uriQuery: ['ep=urn:imei:490154203237518', 'pct=112'] },
    payload: NO_BYTES,
  };

  it('parses and serializes byte for byte', () => {
    assertVector(bytes, message);
  });

  it('routes by path and reads the queries', () => {
    const parsed = parseCoapMessage(bytes);
    assert.equal(uriPathString(parsed.options), '/bs');
    assert.deepStrictEqual(
      queryParameters(parsed.options),
      new Map([
        ['ep', 'urn:imei:490154203237518'],
        ['pct', '112'],
      ]),
    );
  });

  it('parseCoapHeader reads the header and token', () => {
    assert.deepStrictEqual(parseCoapHeader(bytes), {
      type: 'CON',
      code: CoapCode.POST,
      messageId: 1,
      tokenLength: 4,
      token: hex('a1b2c3d4'),
    });
  });
});

describe('option encoding', () => {
  it('writes the 2-byte delta extension: option 300 is 14 / 269 + 31', () => {
    const bytes = hex(`
      50 01 00 00    # NON, TKL 0, GET, Message ID 0
      e0 00 1f       # delta 14 -> 269 + 0x001f = 300, length 0
    `);
    assertVector(bytes, {
      type: 'NON',
      code: CoapCode.GET,
      messageId: 0,
      token: NO_BYTES,
      options: { others: [{ number: 300, value: NO_BYTES }] },
      payload: NO_BYTES,
    });
  });

  it('writes 2-byte delta and length extensions together', () => {
    const value = new Uint8Array(300).fill(7);
    const bytes = concat(
      hex(`
        50 01 00 00    # NON, TKL 0, GET, Message ID 0
        ee             # delta 14, length 14: both extended by 2 bytes
        06 f3          # delta 269 + 0x06f3 (1779) = 2048
        00 1f          # length 269 + 0x001f (31) = 300
      `),
      value,
    );
    assertVector(bytes, {
      type: 'NON',
      code: CoapCode.GET,
      messageId: 0,
      token: NO_BYTES,
      options: { others: [{ number: 2048, value }] },
      payload: NO_BYTES,
    });
  });

  it('writes uint options in the fewest bytes, 0 as the empty value', () => {
    const bytes = hex(`
      40 01 00 07    # CON, GET, Message ID 7
      c0             # delta 12 (Content-Format), length 0: value 0 (text/plain)
      52 2d 16       # delta 5 (17, Accept), length 2: 0x2d16 = 11542 (TLV)
    `);
    assertVector(bytes, {
      type: 'CON',
      code: CoapCode.GET,
      messageId: 7,
      token: NO_BYTES,
      options: { contentFormat: 0, accept: 11542 },
      payload: NO_BYTES,
    });
  });

  it('accepts uint values with leading zero bytes and writes them short', () => {
    // Content-Format with 2 bytes 00 3c = 60 (RFC 7252 3.2: SHOULD be minimal, so a reader accepts it)
    const parsed = parseCoapMessage(hex('40 01 00 07 c2 00 3c'));
    assert.equal(parsed.options.contentFormat, 60);
    assert.deepStrictEqual(serializeCoapMessage(parsed), hex('40 01 00 07 c1 3c'));
  });

  it('sorts options by number and keeps repeated values in order', () => {
    const message: CoapMessage = {
      type: 'CON',
      code: CoapCode.PUT,
      messageId: 0x0102,
      token: hex('ff'),
      options: {
        contentFormat: 11542,
        uriPath: ['0', '1'],
        others: [{ number: 2048, value: hex('aa') }],
      },
      payload: hex('c8 00 01'),
    };
    const bytes = hex(`
      41 03 01 02      # CON, TKL 1, PUT, Message ID 0x0102
      ff               # Token (not a payload marker: it is inside the token)
      b1 30            # delta 11 (Uri-Path), length 1, "0"
      01 31            # delta 0 (Uri-Path again), length 1, "1"
      12 2d 16         # delta 1 (12, Content-Format), length 2: 0x2d16 = 11542
      e1 06 e7 aa      # delta 14 -> 269 + 0x06e7 (1767) = 2036 (12 + 2036 = 2048), length 1
      ff c8 00 01      # payload marker, payload
    `);
    assertVector(bytes, message);
  });
});
