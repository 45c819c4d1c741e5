import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queryParameters, uriPathSegments, uriPathString } from '../../shared/coap/uri.ts';
import { assertCodecError } from './bytes.ts';

describe('uriPathString (RFC 7252 6.5)', () => {
  it('joins segments under a leading slash', () => {
    assert.equal(uriPathString({ uriPath: ['bs'] }), '/bs');
    assert.equal(uriPathString({ uriPath: ['0', '1'] }), '/0/1');
    assert.equal(uriPathString({ uriPath: ['rd', ''] }), '/rd/');
    assert.equal(uriPathString({}), '/');
    assert.equal(uriPathString({ uriPath: [] }), '/');
  });

  it('percent-encodes what is not a path character', () => {
    assert.equal(uriPathString({ uriPath: ['a/b', 'c d', '%', 'é'] }), '/a%2Fb/c%20d/%25/%C3%A9');
    assert.equal(uriPathString({ uriPath: ["-._~!$&'()*+,;=:@"] }), "/-._~!$&'()*+,;=:@");
  });

  it('throws a CodecError for a lone surrogate', () => {
    assertCodecError(() => uriPathString({ uriPath: ['ok', 'x\uD800'] }), 'MALFORMED', { field: 'Uri-Path[1]' });
  });
});

describe('uriPathSegments (RFC 7252 6.4)', () => {
  it('splits a path into Uri-Path values', () => {
    assert.deepStrictEqual(uriPathSegments('/0/1'), ['0', '1']);
    assert.deepStrictEqual(uriPathSegments('bs'), ['bs']);
    assert.deepStrictEqual(uriPathSegments('/'), []);
    assert.deepStrictEqual(uriPathSegments(''), []);
    assert.deepStrictEqual(uriPathSegments('/rd/'), ['rd', '']);
    assert.deepStrictEqual(uriPathSegments('/a%2Fb'), ['a/b']);
  });

  it('is the inverse of uriPathString', () => {
    for (const segments of [['bs'], ['0', '1'], ['a/b', 'c d', '%', 'é'], ['rd', '']]) {
      assert.deepStrictEqual(uriPathSegments(uriPathString({ uriPath: segments })), segments);
    }
  });

  it('rejects broken percent-encoding', () => {
    assertCodecError(() => uriPathSegments('/a/%zz'), 'INVALID_PATH', { field: 'segment 2' });
  });
});

describe('queryParameters', () => {
  it('reads the LwM2M Register and Bootstrap-Request queries', () => {
    const query = queryParameters({ uriQuery: ['ep=urn:imei:490154203237518', 'lt=300', 'lwm2m=1.1', 'b=UQ', 'Q'] });
    assert.deepStrictEqual(
      [...query],
      [
        ['ep', 'urn:imei:490154203237518'],
        ['lt', '300'],
        ['lwm2m', '1.1'],
        ['b', 'UQ'],
        ['Q', ''],
      ],
    );
  });

  it('splits at the first "=" only and keeps empty values', () => {
    assert.deepStrictEqual([...queryParameters({ uriQuery: ['ep=a=b', 'pct=', '=x'] })], [
      ['ep', 'a=b'],
      ['pct', ''],
      ['', 'x'],
    ]);
    assert.equal(queryParameters({}).size, 0);
  });

  it('rejects a parameter given twice', () => {
    assertCodecError(() => queryParameters({ uriQuery: ['ep=a', 'pct=112', 'ep=b'] }), 'DUPLICATE', {
      field: 'Uri-Query[2]',
    });
  });
});
