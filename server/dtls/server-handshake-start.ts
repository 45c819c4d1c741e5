/**
 * The stateless first step of the server's handshake (RFC 6347 section 4.2.1): a ClientHello
 * without a valid cookie is answered with a HelloVerifyRequest and forgotten, so a spoofed source
 * costs no state; one with a valid cookie is negotiated (version, compression, cipher suite) and
 * answered with the ServerHello flight, and only then does the client get a state.
 */
import { randomBytes } from 'node:crypto';
import { CodecError } from '../../shared/errors.ts';
import { AlertDescription } from './alert.ts';
import { ByteReader } from './bytes.ts';
import { chooseCipherSuite, type CipherSuite } from './cipher-suite.ts';
import type { ClientAddress, HelloCookies } from './cookie.ts';
import { alertRecord, plainFlight, plainRecord } from './epoch-zero-records.ts';
import {
  HandshakeType,
  parseClientHello,
  parseHandshakeFragments,
  serializeHandshake,
  serializeHelloVerifyRequest,
  serializeServerHello,
  serializeServerHelloDone,
  type ClientHello,
  type HandshakeFragment,
} from './handshake.ts';
import { flightPayloads } from './handshake-flight.ts';
import { HandshakeReassembly } from './handshake-reassembly.ts';
import { HandshakeTranscript } from './handshake-transcript.ts';
import { ContentType, DTLS_1_0, DTLS_1_2, MAX_SEQUENCE_NUMBER, type DtlsRecord } from './record.ts';
import { DEFAULT_HANDSHAKE_CONFIG, type ClientHelloOutcome, type ServerHandshakeConfig, type ServerHandshakeState } from './server-handshake-state.ts';

const NULL_COMPRESSION = 0;
/** RFC 5746: the SCSV a client offers instead of, or beside, the renegotiation_info extension. */
const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;
const RENEGOTIATION_INFO = 0xff01;
/** An empty renegotiation_info extension: type, length 1, an empty renegotiated_connection. */
const EMPTY_RENEGOTIATION_INFO = new Uint8Array([0xff, 0x01, 0x00, 0x01, 0x00]);
/** Epoch 0 record numbers a handshake may use after the client's hello: flights, resends, alerts. */
const EPOCH_ZERO_HEADROOM = 2 ** 16;

/** The one unfragmented ClientHello the stateless start takes (fragments are reassembled before). */
function wholeMessages(record: DtlsRecord): HandshakeFragment[] {
  const fragments = parseHandshakeFragments(record.fragment);
  for (const fragment of fragments) {
    if (fragment.fragmentOffset !== 0 || fragment.body.length !== fragment.length) {
      throw new CodecError('UNSUPPORTED', 'a fragmented ClientHello must be reassembled first', { field: 'fragment_length' });
    }
  }
  return fragments;
}

/**
 * Whether the client signalled secure renegotiation (RFC 5746 section 3.6), so the ServerHello
 * must answer with an empty renegotiation_info. Renegotiation itself is never offered, but OpenSSL
 * 3 clients refuse a server that does not say so ("unsafe legacy renegotiation disabled").
 */
function wantsRenegotiationInfo(hello: ClientHello): boolean {
  if (hello.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV)) return true;
  if (hello.extensions === undefined) return false;
  const reader = new ByteReader(hello.extensions);
  while (reader.remaining > 0) {
    const type = reader.uint(2, 'extension_type');
    reader.vector(2, 'extension_data');
    if (type === RENEGOTIATION_INFO) return true;
  }
  return false;
}

function negotiate(hello: ClientHello, config: ServerHandshakeConfig): CipherSuite | { readonly alert: number } {
  // DTLS versions count down: 1.2 is 0xfefd, 1.0 is 0xfeff.
  if (hello.clientVersion > DTLS_1_2) return { alert: AlertDescription.protocolVersion };
  if (!hello.compressionMethods.includes(NULL_COMPRESSION)) return { alert: AlertDescription.handshakeFailure };
  return chooseCipherSuite(config.cipherSuites, hello.cipherSuites) ?? { alert: AlertDescription.handshakeFailure };
}

/**
 * The stateless first step for a record from a client that has no handshake state yet. Without a
 * valid cookie the answer is a HelloVerifyRequest that echoes the hello's message_seq and record
 * sequence number (RFC 6347 section 4.2.1); with one, the handshake starts. `serverRandom` is for
 * tests only.
 */
export function startServerHandshake(
  cookies: HelloCookies,
  client: ClientAddress,
  record: DtlsRecord,
  config: ServerHandshakeConfig = DEFAULT_HANDSHAKE_CONFIG,
  serverRandom: Uint8Array = new Uint8Array(randomBytes(32)),
): ClientHelloOutcome {
  if (record.type !== ContentType.handshake || record.epoch !== 0) return { type: 'ignore' };
  const messages = wholeMessages(record);
  const message = messages[0];
  if (messages.length !== 1 || message === undefined || message.msgType !== HandshakeType.clientHello) return { type: 'ignore' };
  const hello = parseClientHello(message.body);

  if (!cookies.verify(client, hello)) {
    const body = serializeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie: cookies.issue(client, hello) });
    const fragment = serializeHandshake(HandshakeType.helloVerifyRequest, message.messageSeq, body);
    return { type: 'hello-verify-request', record: plainRecord(ContentType.handshake, record.sequenceNumber, fragment, DTLS_1_0) };
  }
  // Our epoch 0 records continue from the client's number; too near the end of the 48-bit space
  // they could not be numbered at all, so such a hello starts nothing.
  if (record.sequenceNumber > MAX_SEQUENCE_NUMBER - EPOCH_ZERO_HEADROOM) return { type: 'ignore' };
  const suite = negotiate(hello, config);
  if ('alert' in suite) return { type: 'rejected', record: alertRecord(suite.alert, record.sequenceNumber), alert: suite.alert };

  // The server's message_seq continues from the client's, as the hello it answers (RFC 6347 4.2.2).
  const seq = message.messageSeq;
  const serverHello = serializeServerHello({
    serverVersion: DTLS_1_2,
    random: serverRandom,
    sessionId: new Uint8Array(0),
    cipherSuite: suite.id,
    compressionMethod: NULL_COMPRESSION,
    extensions: wantsRenegotiationInfo(hello) ? EMPTY_RENEGOTIATION_INFO : undefined,
  });
  const serverHelloDone = serializeServerHelloDone();
  const transcript = new HandshakeTranscript()
    .with(HandshakeType.clientHello, seq, message.body)
    .with(HandshakeType.serverHello, seq, serverHello)
    .with(HandshakeType.serverHelloDone, seq + 1, serverHelloDone);
  const flight = flightPayloads(
    [
      { msgType: HandshakeType.serverHello, messageSeq: seq, body: serverHello },
      { msgType: HandshakeType.serverHelloDone, messageSeq: seq + 1, body: serverHelloDone },
    ],
    config.maxHandshakeFragment,
  );
  // Record sequence numbers start where the client's are, as for the HelloVerifyRequest.
  const state: ServerHandshakeState = {
    phase: 'awaiting-client-key-exchange',
    suite,
    maxHandshakeFragment: config.maxHandshakeFragment,
    clientRandom: hello.random,
    serverRandom,
    transcript,
    clientHelloSeq: seq,
    nextReceiveSeq: seq + 1,
    nextSendSeq: seq + 2,
    nextRecordSeq: record.sequenceNumber + flight.length,
    serverHelloFlight: flight,
    reassembly: new HandshakeReassembly(),
  };
  return { type: 'started', state, actions: [{ type: 'send', records: plainFlight(flight, record.sequenceNumber) }] };
}
