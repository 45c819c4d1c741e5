import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ascii, assertCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';
import {
  HandshakeType,
  parseClientHello,
  parseFinished,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parsePskClientKeyExchange,
  parseServerHello,
  parseServerHelloDone,
  serializeClientHello,
  serializeFinished,
  serializeHandshake,
  serializeHandshakeFragment,
  serializeHelloVerifyRequest,
  serializePskClientKeyExchange,
  serializeServerHello,
  serializeServerHelloDone,
  type ClientHello,
} from '../../server/dtls/handshake.ts';
import { HANDSHAKE_BODY_PARSERS } from './fixtures/handshake-parsers.ts';

const random = '5f' + '00'.repeat(30) + 'a5';
// A first ClientHello shaped like the ones PSK clients send: no cookie yet, CCM_8 (0xc0a8) and
// CBC_SHA256 (0x00ae), null compression, encrypt_then_mac and extended_master_secret.
const clientHelloBody = hex('fefd', random, '00', '00', '0004 c0a8 00ae', '01 00', '0008 0016 0000 0017 0000');
const clientHelloMessage = hex('01 000036 0000 000000 000036', toHex(clientHelloBody));

const sampleHello: ClientHello = {
  clientVersion: 0xfefd,
  random: hex(random),
  sessionId: new Uint8Array(0),
  cookie: new Uint8Array(0),
  cipherSuites: [0xc0a8, 0x00ae],
  compressionMethods: hex('00'),
  extensions: hex('0016 0000 0017 0000'),
};

const bytesUpTo = (max: number) => fc.uint8Array({ maxLength: max });
const clientHelloArbitrary: fc.Arbitrary<ClientHello> = fc
  .record({
    clientVersion: fc.constantFrom(0xfefd, 0xfeff),
    random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    sessionId: bytesUpTo(32),
    cookie: bytesUpTo(64),
    cipherSuites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 8 }),
    compressionMethods: fc.uint8Array({ minLength: 1, maxLength: 3 }),
    extensions: fc.option(bytesUpTo(40), { nil: undefined }),
  })
  .map((hello) => ({ ...hello }));

describe('handshake message header (RFC 6347 4.2.2)', () => {
  it('parses a whole ClientHello as one fragment', () => {
    const [fragment, ...rest] = parseHandshakeFragments(clientHelloMessage);
    assert.equal(rest.length, 0);
    assert.deepEqual(fragment, { msgType: HandshakeType.clientHello, length: 54, messageSeq: 0, fragmentOffset: 0, body: clientHelloBody });
    assert.equal(toHex(serializeHandshake(HandshakeType.clientHello, 0, clientHelloBody)), toHex(clientHelloMessage));
  });

  it('parses fragments: offset and fragment length within the message length', () => {
    const part = hex('01 000036 0001 000010 000004 01020304');
    const [fragment] = parseHandshakeFragments(part);
    assert.deepEqual(fragment, { msgType: 1, length: 54, messageSeq: 1, fragmentOffset: 16, body: hex('01020304') });
    assert.equal(toHex(serializeHandshakeFragment(fragment!)), toHex(part));
  });

  it('parses several messages in one record (ServerHello + ServerHelloDone)', () => {
    const serverHello = serializeHandshake(HandshakeType.serverHello, 1, hex('fefd', random, '00 c0a8 00'));
    const done = serializeHandshake(HandshakeType.serverHelloDone, 2, serializeServerHelloDone());
    const fragments = parseHandshakeFragments(new Uint8Array([...serverHello, ...done]));
    assert.deepEqual(
      fragments.map((f) => [f.msgType, f.messageSeq, f.body.length]),
      [[2, 1, 38], [14, 2, 0]],
    );
  });

  it('refuses a fragment past the message end and truncated headers or bodies', () => {
    assertCodecError(() => parseHandshakeFragments(hex('01 000004 0000 000002 000003 010203')), 'MALFORMED', { field: 'fragment_offset' });
    assertCodecError(() => parseHandshakeFragments(hex('01 000036 0000 0000')), 'TRUNCATED', { field: 'fragment_offset' });
    assertCodecError(() => parseHandshakeFragments(clientHelloMessage.subarray(0, 40)), 'TRUNCATED', { field: 'fragment' });
    assertCodecError(() => parseHandshakeFragments(new Uint8Array(0)), 'TRUNCATED');
  });
});

describe('ClientHello', () => {
  it('parses the captured shape', () => {
    assert.deepEqual(parseClientHello(clientHelloBody), sampleHello);
  });

  it('parses a second hello with a cookie and no extensions', () => {
    const body = hex('fefd', random, '00', '20', 'cc'.repeat(32), '0002 c0a8', '01 00');
    const hello = parseClientHello(body);
    assert.equal(toHex(hello.cookie), 'cc'.repeat(32));
    assert.equal(hello.extensions, undefined);
    assert.equal(toHex(serializeClientHello(hello)), toHex(body));
  });

  it('serializes to the captured bytes', () => {
    assert.equal(toHex(serializeClientHello(sampleHello)), toHex(clientHelloBody));
  });

  it('refuses odd or empty cipher suites, no compression, long session ids and trailing bytes', () => {
    assertCodecError(() => parseClientHello(hex(toHex(clientHelloBody), '00')), 'TRAILING_BYTES');
    assertCodecError(() => parseClientHello(hex('fefd', random, '00 00', '0003 c0a800', '01 00')), 'MALFORMED', { field: 'cipher_suites' });
    assertCodecError(() => parseClientHello(hex('fefd', random, '00 00', '0000', '01 00')), 'OUT_OF_RANGE', { field: 'cipher_suites' });
    assertCodecError(() => parseClientHello(hex('fefd', random, '00 00', '0002 c0a8', '00')), 'OUT_OF_RANGE', { field: 'compression_methods' });
    assertCodecError(() => parseClientHello(hex('fefd', random, '21', '00'.repeat(33), '00 0002 c0a8 0100')), 'OUT_OF_RANGE', { field: 'session_id' });
    assertCodecError(() => parseClientHello(clientHelloBody.subarray(0, clientHelloBody.length - 1)), 'TRUNCATED', { field: 'extensions' });
    assertCodecError(() => parseClientHello(hex(toHex(clientHelloBody.subarray(0, 44)), '0000 ff')), 'TRAILING_BYTES');
  });

  it('round trips any hello', () => {
    fc.assert(fc.property(clientHelloArbitrary, (hello) => assert.deepStrictEqual(parseClientHello(serializeClientHello(hello)), hello)));
  });
});

describe('server flight and client key exchange', () => {
  it('HelloVerifyRequest', () => {
    const body = hex('feff 20', 'ab'.repeat(32));
    assert.deepEqual(parseHelloVerifyRequest(body), { serverVersion: 0xfeff, cookie: hex('ab'.repeat(32)) });
    assert.equal(toHex(serializeHelloVerifyRequest({ serverVersion: 0xfeff, cookie: hex('ab'.repeat(32)) })), toHex(body));
    assertCodecError(() => parseHelloVerifyRequest(hex('feff 20 abab')), 'TRUNCATED', { field: 'cookie' });
    assertCodecError(() => serializeHelloVerifyRequest({ serverVersion: 0xfeff, cookie: new Uint8Array(256) }), 'OUT_OF_RANGE');
  });

  it('ServerHello with and without extensions', () => {
    const plain = hex('fefd', random, '00 c0a8 00');
    const hello = parseServerHello(plain);
    assert.deepEqual(hello, { serverVersion: 0xfefd, random: hex(random), sessionId: new Uint8Array(0), cipherSuite: 0xc0a8, compressionMethod: 0, extensions: undefined });
    assert.equal(toHex(serializeServerHello(hello)), toHex(plain));
    const withExtensions = { ...hello, sessionId: hex('0102'), extensions: hex('0017 0000') };
    assert.deepEqual(parseServerHello(serializeServerHello(withExtensions)), withExtensions);
    assertCodecError(() => serializeServerHello({ ...hello, random: new Uint8Array(31) }), 'OUT_OF_RANGE', { field: 'random' });
  });

  it('ServerHelloDone is empty', () => {
    assert.equal(serializeServerHelloDone().length, 0);
    parseServerHelloDone(new Uint8Array(0));
    assertCodecError(() => parseServerHelloDone(hex('00')), 'TRAILING_BYTES');
  });

  it('PSK ClientKeyExchange carries psk_identity<0..2^16-1>', () => {
    const body = hex('0008', ascii('Client_'), '31');
    assert.equal(new TextDecoder().decode(parsePskClientKeyExchange(body).pskIdentity), 'Client_1');
    assert.equal(toHex(serializePskClientKeyExchange({ pskIdentity: new TextEncoder().encode('Client_1') })), toHex(body));
    assertCodecError(() => parsePskClientKeyExchange(hex('0009', ascii('Client_1'))), 'TRUNCATED', { field: 'psk_identity' });
    assertCodecError(() => parsePskClientKeyExchange(hex('00')), 'TRUNCATED');
  });

  it('Finished carries 12 bytes of verify_data', () => {
    const verifyData = hex('0102030405060708090a0b0c');
    assert.deepEqual(parseFinished(serializeFinished(verifyData)), verifyData);
    assertCodecError(() => parseFinished(verifyData.subarray(0, 11)), 'TRUNCATED', { field: 'verify_data' });
    assertCodecError(() => parseFinished(hex('00', toHex(verifyData))), 'TRAILING_BYTES');
    assertCodecError(() => serializeFinished(new Uint8Array(13)), 'OUT_OF_RANGE');
  });
});

describe('mutation: parsers only throw CodecError', () => {
  const bodies = fc.oneof(fc.constant(clientHelloBody), clientHelloArbitrary.map(serializeClientHello));
  for (const [name, parse] of [['handshake fragments', parseHandshakeFragments] as const, ...HANDSHAKE_BODY_PARSERS]) {
    it(name, () => {
      assertOnlyCodecErrors(mutatedBytes(fc.oneof(bodies, bodies.map((body) => serializeHandshake(1, 0, body)))), parse, 500);
      assertOnlyCodecErrors(fc.uint8Array({ maxLength: 80 }), parse, 300);
    });
  }
});
