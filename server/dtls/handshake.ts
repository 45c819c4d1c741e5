/**
 * DTLS 1.2 handshake messages (RFC 6347 section 4.2.2 header, RFC 5246 section 7.4 bodies, RFC 4279
 * for the PSK ClientKeyExchange). Only the messages a PSK server sends or receives are here.
 * Extensions stay raw bytes: the server decides later which ones it understands.
 */
import { CodecError } from '../../shared/errors.ts';
import { ByteReader, concatBytes, uintBytes, vectorBytes } from './bytes.ts';

export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  serverKeyExchange: 12,
  serverHelloDone: 14,
  clientKeyExchange: 16,
  finished: 20,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

export const HANDSHAKE_HEADER_LENGTH = 12;
export const RANDOM_LENGTH = 32;
export const VERIFY_DATA_LENGTH = 12;

export interface HandshakeFragment {
  readonly msgType: number;
  /** Length of the whole message body, not of this fragment. */
  readonly length: number;
  readonly messageSeq: number;
  readonly fragmentOffset: number;
  readonly body: Uint8Array;
}

function readFragment(reader: ByteReader): HandshakeFragment {
  const start = reader.offset;
  const msgType = reader.uint(1, 'msg_type');
  const length = reader.uint(3, 'length');
  const messageSeq = reader.uint(2, 'message_seq');
  const fragmentOffset = reader.uint(3, 'fragment_offset');
  const fragmentLength = reader.uint(3, 'fragment_length');
  if (fragmentOffset + fragmentLength > length) {
    throw new CodecError('MALFORMED', 'fragment extends past the message length', { offset: start + 6, field: 'fragment_offset' });
  }
  const body = reader.bytes(fragmentLength, 'fragment');
  return { msgType, length, messageSeq, fragmentOffset, body };
}

/** All handshake fragments in one record's plaintext (a record may carry several). */
export function parseHandshakeFragments(fragment: Uint8Array): HandshakeFragment[] {
  if (fragment.length === 0) throw new CodecError('TRUNCATED', 'empty handshake record', { offset: 0, field: 'msg_type' });
  const reader = new ByteReader(fragment);
  const out: HandshakeFragment[] = [];
  while (reader.remaining > 0) out.push(readFragment(reader));
  return out;
}

export function serializeHandshakeFragment(fragment: HandshakeFragment): Uint8Array {
  if (fragment.fragmentOffset + fragment.body.length > fragment.length) {
    throw new CodecError('MALFORMED', 'fragment extends past the message length', { field: 'fragment_offset' });
  }
  return concatBytes(
    uintBytes(fragment.msgType, 1),
    uintBytes(fragment.length, 3),
    uintBytes(fragment.messageSeq, 2),
    uintBytes(fragment.fragmentOffset, 3),
    uintBytes(fragment.body.length, 3),
    fragment.body,
  );
}

/**
 * A whole message as one fragment. This is also the form that enters the Finished hash (RFC 6347
 * section 4.2.6), whatever fragmentation was used on the wire.
 */
export function serializeHandshake(msgType: HandshakeType, messageSeq: number, body: Uint8Array): Uint8Array {
  return serializeHandshakeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: 0, body });
}

export interface ClientHello {
  readonly clientVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cookie: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: Uint8Array;
  /** Extensions block without its length prefix; undefined when the hello has none at all. */
  readonly extensions: Uint8Array | undefined;
}

export function parseClientHello(body: Uint8Array): ClientHello {
  const reader = new ByteReader(body);
  const clientVersion = reader.uint(2, 'client_version');
  const random = reader.bytes(RANDOM_LENGTH, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, 32);
  const cookie = reader.vector(1, 'cookie', 0, 255);
  const suitesStart = reader.offset;
  const suiteBytes = reader.vector(2, 'cipher_suites', 2, 2 ** 16 - 2);
  if (suiteBytes.length % 2 !== 0) {
    throw new CodecError('MALFORMED', 'odd cipher_suites length', { offset: suitesStart, field: 'cipher_suites' });
  }
  const cipherSuites: number[] = [];
  for (let i = 0; i < suiteBytes.length; i += 2) cipherSuites.push(suiteBytes[i]! * 256 + suiteBytes[i + 1]!);
  const compressionMethods = reader.vector(1, 'compression_methods', 1);
  const extensions = reader.remaining > 0 ? reader.vector(2, 'extensions') : undefined;
  reader.end('ClientHello');
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

function checkRandom(random: Uint8Array): Uint8Array {
  if (random.length !== RANDOM_LENGTH) throw new CodecError('OUT_OF_RANGE', 'random must be 32 bytes', { field: 'random' });
  return random;
}

function checkedVector(data: Uint8Array, width: 1 | 2, field: string, floor: number, ceiling: number): Uint8Array {
  if (data.length < floor || data.length > ceiling) {
    throw new CodecError('OUT_OF_RANGE', `${field} length ${data.length} outside ${floor}..${ceiling}`, { field });
  }
  return vectorBytes(data, width);
}

/** The ClientHello fields after the cookie up to the end, shared with the cookie computation. */
export function clientHelloSuitesAndExtensions(hello: ClientHello): Uint8Array {
  return concatBytes(
    checkedVector(concatBytes(...hello.cipherSuites.map((suite) => uintBytes(suite, 2))), 2, 'cipher_suites', 2, 2 ** 16 - 2),
    checkedVector(hello.compressionMethods, 1, 'compression_methods', 1, 255),
    hello.extensions === undefined ? new Uint8Array(0) : checkedVector(hello.extensions, 2, 'extensions', 0, 2 ** 16 - 1),
  );
}

export function serializeClientHello(hello: ClientHello): Uint8Array {
  return concatBytes(
    uintBytes(hello.clientVersion, 2),
    checkRandom(hello.random),
    checkedVector(hello.sessionId, 1, 'session_id', 0, 32),
    checkedVector(hello.cookie, 1, 'cookie', 0, 255),
    clientHelloSuitesAndExtensions(hello),
  );
}

export interface HelloVerifyRequest {
  readonly serverVersion: number;
  readonly cookie: Uint8Array;
}

export function parseHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
  const reader = new ByteReader(body);
  const serverVersion = reader.uint(2, 'server_version');
  const cookie = reader.vector(1, 'cookie', 0, 255);
  reader.end('HelloVerifyRequest');
  return { serverVersion, cookie };
}

export function serializeHelloVerifyRequest(request: HelloVerifyRequest): Uint8Array {
  return concatBytes(uintBytes(request.serverVersion, 2), checkedVector(request.cookie, 1, 'cookie', 0, 255));
}

export interface ServerHello {
  readonly serverVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: Uint8Array | undefined;
}

export function parseServerHello(body: Uint8Array): ServerHello {
  const reader = new ByteReader(body);
  const serverVersion = reader.uint(2, 'server_version');
  const random = reader.bytes(RANDOM_LENGTH, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, 32);
  const cipherSuite = reader.uint(2, 'cipher_suite');
  const compressionMethod = reader.uint(1, 'compression_method');
  const extensions = reader.remaining > 0 ? reader.vector(2, 'extensions') : undefined;
  reader.end('ServerHello');
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function serializeServerHello(hello: ServerHello): Uint8Array {
  return concatBytes(
    uintBytes(hello.serverVersion, 2),
    checkRandom(hello.random),
    checkedVector(hello.sessionId, 1, 'session_id', 0, 32),
    uintBytes(hello.cipherSuite, 2),
    uintBytes(hello.compressionMethod, 1),
    hello.extensions === undefined ? new Uint8Array(0) : checkedVector(hello.extensions, 2, 'extensions', 0, 2 ** 16 - 1),
  );
}

export function parseServerHelloDone(body: Uint8Array): void {
  new ByteReader(body).end('ServerHelloDone');
}

export function serializeServerHelloDone(): Uint8Array {
  return new Uint8Array(0);
}

/** RFC 4279 section 2: struct { opaque psk_identity<0..2^16-1>; } ClientKeyExchange. */
export interface PskClientKeyExchange {
  readonly pskIdentity: Uint8Array;
}

export function parsePskClientKeyExchange(body: Uint8Array): PskClientKeyExchange {
  const reader = new ByteReader(body);
  const pskIdentity = reader.vector(2, 'psk_identity');
  reader.end('ClientKeyExchange');
  return { pskIdentity };
}

export function serializePskClientKeyExchange(exchange: PskClientKeyExchange): Uint8Array {
  return checkedVector(exchange.pskIdentity, 2, 'psk_identity', 0, 2 ** 16 - 1);
}

/** Finished carries only verify_data, 12 bytes for every TLS 1.2 suite this server offers. */
export function parseFinished(body: Uint8Array): Uint8Array {
  const reader = new ByteReader(body);
  const verifyData = reader.bytes(VERIFY_DATA_LENGTH, 'verify_data');
  reader.end('Finished');
  return verifyData;
}

export function serializeFinished(verifyData: Uint8Array): Uint8Array {
  if (verifyData.length !== VERIFY_DATA_LENGTH) {
    throw new CodecError('OUT_OF_RANGE', 'verify_data must be 12 bytes', { field: 'verify_data' });
  }
  return verifyData.slice();
}
