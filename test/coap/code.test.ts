import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoapCode,
  codeClass,
  codeDetail,
  codeName,
  describeCode,
  formatCode,
  isEmptyCode,
  isRequestCode,
  isReservedCodeClass,
  isResponseCode,
  makeCode,
  parseCode,
} from '../../shared/coap/code.ts';
import { assertCodecError } from './bytes.ts';

describe('CoAP codes (RFC 7252 3. and 12.1)', () => {
  it('splits the byte into class and detail: 2.05 is 69 = 010 00101 (Appendix A)', () => {
    assert.equal(CoapCode.CONTENT, 69);
    assert.equal(codeClass(69), 2);
    assert.equal(codeDetail(69), 5);
    assert.equal(formatCode(69), '2.05');
    assert.equal(parseCode('2.05'), 69);
  });

  it('formats and parses the registry codes both ways', () => {
    const pinned: [string, number][] = [
      ['0.00', CoapCode.EMPTY],
      ['0.01', CoapCode.GET],
      ['0.02', CoapCode.POST],
      ['2.04', CoapCode.CHANGED],
      ['2.31', CoapCode.CONTINUE],
      ['4.02', CoapCode.BAD_OPTION],
      ['4.04', CoapCode.NOT_FOUND],
      ['4.08', CoapCode.REQUEST_ENTITY_INCOMPLETE],
      ['4.13', CoapCode.REQUEST_ENTITY_TOO_LARGE],
      ['4.15', CoapCode.UNSUPPORTED_CONTENT_FORMAT],
      ['5.05', CoapCode.PROXYING_NOT_SUPPORTED],
    ];
    for (const [text, code] of pinned) {
      assert.equal(formatCode(code), text);
      assert.equal(parseCode(text), code);
    }
    for (let code = 0; code < 256; code++) assert.equal(parseCode(formatCode(code)), code);
  });

  it('names codes', () => {
    assert.equal(codeName(0x44), 'Changed');
    assert.equal(describeCode(0x84), '4.04 Not Found');
    assert.equal(describeCode(0xff), '7.31');
    assert.equal(codeName(0x3f), undefined);
  });

  it('rejects malformed code text', () => {
    for (const text of ['2.4', '8.00', '2.32', '2.99', 'x', '', '2.04 ', '-1.00']) {
      assertCodecError(() => parseCode(text), text === '2.32' || text === '2.99' ? 'OUT_OF_RANGE' : 'MALFORMED', {
        field: 'code',
      });
    }
    assertCodecError(() => makeCode(8, 0), 'OUT_OF_RANGE');
    assertCodecError(() => makeCode(0, 32), 'OUT_OF_RANGE');
  });

  it('classifies codes', () => {
    assert.equal(isEmptyCode(0), true);
    assert.equal(isRequestCode(CoapCode.POST), true);
    assert.equal(isRequestCode(0), false);
    assert.equal(isResponseCode(CoapCode.CHANGED), true);
    assert.equal(isResponseCode(CoapCode.GET), false);
    assert.equal(isReservedCodeClass(makeCode(1, 0)), true);
    assert.equal(isReservedCodeClass(makeCode(6, 1)), true);
    assert.equal(isReservedCodeClass(makeCode(7, 31)), true);
    assert.equal(isReservedCodeClass(CoapCode.INTERNAL_SERVER_ERROR), false);
  });
});
