/**
 * The server side of a DTLS 1.2 PSK handshake for TLS_PSK_WITH_AES_128_CCM_8 (RFC 6347 section 4.2,
 * RFC 4279, RFC 6655, RFC 7925) as a state machine without sockets or timers:
 *
 *   ClientHello (no cookie)       -> HelloVerifyRequest, and no state at all
 *   ClientHello (valid cookie)    -> ServerHello, ServerHelloDone         startServerHandshake
 *   ClientKeyExchange(identity)   -> lookup-psk action                     stepServerHandshake
 *   psk event                     -> keys
 *   ChangeCipherSpec, Finished    -> ChangeCipherSpec, Finished, established
 *
 * The PSK lookup is asynchronous, so it is an action out and an event in. An unknown identity
 * continues with a random key and so fails exactly where a wrong key fails, at the client's
 * Finished, with the same decrypt_error alert (RFC 4279 section 2 lets a server hide
 * unknown_psk_identity that way). Handshake messages must arrive unfragmented: reassembly is not
 * done here, and a fragment is a CodecError UNSUPPORTED. Parse errors are CodecErrors thrown with
 * the state untouched, and the caller drops the datagram (RFC 6347 section 4.1.2.7).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CodecError } from '../../shared/errors.ts';
import { AlertDescription, AlertLevel, parseAlert, serializeAlert } from './alert.ts';
import { ByteReader } from './bytes.ts';
import { decryptCcm8, encryptCcm8 } from './ccm8.ts';
import type { ClientAddress, HelloCookies } from './cookie.ts';
import { EstablishedSession, type SessionKeys } from './established-session.ts';
import {
  HandshakeType,
  parseClientHello,
  parseFinished,
  parseHandshakeFragments,
  parsePskClientKeyExchange,
  serializeFinished,
  serializeHandshake,
  serializeHelloVerifyRequest,
  serializeServerHello,
  serializeServerHelloDone,
  type ClientHello,
  type HandshakeFragment,
} from './handshake.ts';
import { HandshakeTranscript } from './handshake-transcript.ts';
import { AES_128_CCM_8_LAYOUT, keyBlock, masterSecret, pskPremasterSecret, verifyData } from './prf.ts';
import { isBadRecordMacError } from './record-protection-error.ts';
import { ContentType, DTLS_1_0, DTLS_1_2, type DtlsRecord } from './record.ts';
import { ReplayWindow } from './replay-window.ts';

export const TLS_PSK_WITH_AES_128_CCM_8 = 0xc0a8;
const NULL_COMPRESSION = 0;
/** RFC 5746: the SCSV a client offers instead of, or beside, the renegotiation_info extension. */
const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;
const RENEGOTIATION_INFO = 0xff01;
/** An empty renegotiation_info extension: type, length 1, an empty renegotiated_connection. */
const EMPTY_RENEGOTIATION_INFO = new Uint8Array([0xff, 0x01, 0x00, 0x01, 0x00]);
/** Stands in for the key of an unknown identity, so that case costs and ends like a wrong key. */
const DUMMY_PSK_LENGTH = 32;

/** What every state between the verified ClientHello and the client's Finished carries. */
interface Negotiation {
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
  readonly transcript: HandshakeTranscript;
  /** message_seq of the ClientHello that carried the cookie; a retransmission of it gets the flight again. */
  readonly clientHelloSeq: number;
  /** message_seq the next client handshake message must carry. */
  readonly nextReceiveSeq: number;
  /** message_seq of the next server handshake message. */
  readonly nextSendSeq: number;
  /** Next record sequence number in epoch 0. */
  readonly nextRecordSeq: number;
  /** The ServerHello flight as handshake messages, kept to answer a retransmitted ClientHello. */
  readonly serverHelloFlight: Uint8Array;
}

/** The client's ChangeCipherSpec and an epoch 1 record that may arrive before the keys exist. */
interface FinishedWait {
  readonly identity: Uint8Array;
  readonly changeCipherSpecSeen: boolean;
  readonly pendingFinished: DtlsRecord | undefined;
}

export type ServerHandshakeState =
  | ({ readonly phase: 'awaiting-client-key-exchange' } & Negotiation)
  | ({ readonly phase: 'awaiting-psk' } & Negotiation & FinishedWait)
  | ({ readonly phase: 'awaiting-finished'; readonly master: Uint8Array; readonly keys: SessionKeys } & Negotiation & FinishedWait)
  | {
      readonly phase: 'established';
      readonly identity: Uint8Array;
      readonly session: EstablishedSession;
      /** The last flight, as handshake message and epoch 0 sequence, to repeat if the client's Finished is retransmitted. */
      readonly serverFinished: Uint8Array;
      readonly nextRecordSeq: number;
    }
  | { readonly phase: 'failed'; readonly alert: number };

export type ServerHandshakeEvent =
  | { readonly type: 'record'; readonly record: DtlsRecord }
  /** The answer to lookup-psk; undefined when the identity is unknown. */
  | { readonly type: 'psk'; readonly key: Uint8Array | undefined };

export type ServerHandshakeAction =
  | { readonly type: 'send'; readonly records: readonly DtlsRecord[] }
  | { readonly type: 'lookup-psk'; readonly identity: Uint8Array }
  | { readonly type: 'established'; readonly identity: Uint8Array; readonly session: EstablishedSession }
  /** `sent`: the server sent this alert; otherwise the client did. */
  | { readonly type: 'failed'; readonly alert: number; readonly sent: boolean };

export interface ServerHandshakeStep {
  readonly state: ServerHandshakeState;
  readonly actions: readonly ServerHandshakeAction[];
}

export type ClientHelloOutcome =
  /** Not a ClientHello in epoch 0: not the start of a handshake. */
  | { readonly type: 'ignore' }
  /** Stateless: send the record and forget the client. */
  | { readonly type: 'hello-verify-request'; readonly record: DtlsRecord }
  /** The cookie was valid but nothing acceptable was offered: send the alert, keep no state. */
  | { readonly type: 'rejected'; readonly record: DtlsRecord; readonly alert: number }
  | ({ readonly type: 'started' } & ServerHandshakeStep);

function plainRecord(type: ContentType, sequenceNumber: number, fragment: Uint8Array, version = DTLS_1_2): DtlsRecord {
  return { type, version, epoch: 0, sequenceNumber, fragment };
}

function alertRecord(description: number, sequenceNumber: number): DtlsRecord {
  return plainRecord(ContentType.alert, sequenceNumber, serializeAlert({ level: AlertLevel.fatal, description }));
}

/** The one unfragmented handshake message a handshake record may carry here. */
function wholeMessages(record: DtlsRecord): HandshakeFragment[] {
  const fragments = parseHandshakeFragments(record.fragment);
  for (const fragment of fragments) {
    if (fragment.fragmentOffset !== 0 || fragment.body.length !== fragment.length) {
      throw new CodecError('UNSUPPORTED', 'fragmented handshake messages are not reassembled', { field: 'fragment_length' });
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

function negotiationAlert(hello: ClientHello): number | undefined {
  // DTLS versions count down: 1.2 is 0xfefd, 1.0 is 0xfeff.
  if (hello.clientVersion > DTLS_1_2) return AlertDescription.protocolVersion;
  if (!hello.cipherSuites.includes(TLS_PSK_WITH_AES_128_CCM_8)) return AlertDescription.handshakeFailure;
  if (!hello.compressionMethods.includes(NULL_COMPRESSION)) return AlertDescription.handshakeFailure;
  return undefined;
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
  const alert = negotiationAlert(hello);
  if (alert !== undefined) return { type: 'rejected', record: alertRecord(alert, record.sequenceNumber), alert };

  // The server's message_seq continues from the client's, as the hello it answers (RFC 6347 4.2.2).
  const seq = message.messageSeq;
  const serverHello = serializeServerHello({
    serverVersion: DTLS_1_2,
    random: serverRandom,
    sessionId: new Uint8Array(0),
    cipherSuite: TLS_PSK_WITH_AES_128_CCM_8,
    compressionMethod: NULL_COMPRESSION,
    extensions: wantsRenegotiationInfo(hello) ? EMPTY_RENEGOTIATION_INFO : undefined,
  });
  const serverHelloDone = serializeServerHelloDone();
  const transcript = new HandshakeTranscript()
    .with(HandshakeType.clientHello, seq, message.body)
    .with(HandshakeType.serverHello, seq, serverHello)
    .with(HandshakeType.serverHelloDone, seq + 1, serverHelloDone);
  const flight = new Uint8Array([
    ...serializeHandshake(HandshakeType.serverHello, seq, serverHello),
    ...serializeHandshake(HandshakeType.serverHelloDone, seq + 1, serverHelloDone),
  ]);
  // Record sequence numbers start where the client's are, as for the HelloVerifyRequest.
  const state: ServerHandshakeState = {
    phase: 'awaiting-client-key-exchange',
    clientRandom: hello.random,
    serverRandom,
    transcript,
    clientHelloSeq: seq,
    nextReceiveSeq: seq + 1,
    nextSendSeq: seq + 2,
    nextRecordSeq: record.sequenceNumber + 1,
    serverHelloFlight: flight,
  };
  return { type: 'started', state, actions: [{ type: 'send', records: [plainRecord(ContentType.handshake, record.sequenceNumber, flight)] }] };
}

export function stepServerHandshake(state: ServerHandshakeState, event: ServerHandshakeEvent): ServerHandshakeStep {
  if (state.phase === 'failed') return { state, actions: [] };
  if (event.type === 'psk') return state.phase === 'awaiting-psk' ? onPsk(state, event.key) : { state, actions: [] };
  const { record } = event;
  if (state.phase === 'established') return onEstablishedRecord(state, record);
  if (record.type === ContentType.alert && record.epoch === 0) return onAlert(state, record);
  if (record.type === ContentType.changeCipherSpec && record.epoch === 0) return onChangeCipherSpec(state, record);
  if (record.type !== ContentType.handshake) return { state, actions: [] };
  if (record.epoch === 1) return onEpochOneHandshake(state, record);
  if (record.epoch === 0) return onHandshake(state, record);
  return { state, actions: [] };
}

type Handshaking = Exclude<ServerHandshakeState, { phase: 'established' } | { phase: 'failed' }>;
type AwaitingPsk = Extract<ServerHandshakeState, { phase: 'awaiting-psk' }>;
type AwaitingFinished = Extract<ServerHandshakeState, { phase: 'awaiting-finished' }>;
type Established = Extract<ServerHandshakeState, { phase: 'established' }>;

function fail(state: { readonly nextRecordSeq: number }, alert: number): ServerHandshakeStep {
  return {
    state: { phase: 'failed', alert },
    actions: [
      { type: 'send', records: [alertRecord(alert, state.nextRecordSeq)] },
      { type: 'failed', alert, sent: true },
    ],
  };
}

function onAlert(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  const alert = parseAlert(record.fragment);
  if (alert.level !== AlertLevel.fatal && alert.description !== AlertDescription.closeNotify) return { state, actions: [] };
  return { state: { phase: 'failed', alert: alert.description }, actions: [{ type: 'failed', alert: alert.description, sent: false }] };
}

function onChangeCipherSpec(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  if (record.fragment.length !== 1 || record.fragment[0] !== 1) {
    throw new CodecError('MALFORMED', 'ChangeCipherSpec must be the single byte 1', { offset: 0, field: 'change_cipher_spec' });
  }
  // Before the ClientKeyExchange it can only be reordered or lost-flight debris: the client repeats it.
  if (state.phase === 'awaiting-client-key-exchange') return { state, actions: [] };
  const next = { ...state, changeCipherSpecSeen: true };
  if (next.phase === 'awaiting-finished' && next.pendingFinished !== undefined) {
    return onFinished({ ...next, pendingFinished: undefined }, next.pendingFinished);
  }
  return { state: next, actions: [] };
}

function onHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  let current: Handshaking = state;
  const actions: ServerHandshakeAction[] = [];
  for (const message of wholeMessages(record)) {
    if (current.phase === 'awaiting-client-key-exchange' && message.messageSeq === current.clientHelloSeq && message.msgType === HandshakeType.clientHello) {
      // Our flight was lost (RFC 6347 4.2.4): send it again under fresh record sequence numbers.
      actions.push({ type: 'send', records: [plainRecord(ContentType.handshake, current.nextRecordSeq, current.serverHelloFlight)] });
      current = { ...current, nextRecordSeq: current.nextRecordSeq + 1 };
      continue;
    }
    // Older messages are retransmissions, later ones arrive too early: the client repeats its flight.
    if (message.messageSeq !== current.nextReceiveSeq) continue;
    if (current.phase !== 'awaiting-client-key-exchange' || message.msgType !== HandshakeType.clientKeyExchange) {
      const failed = fail(current, AlertDescription.unexpectedMessage);
      return { state: failed.state, actions: [...actions, ...failed.actions] };
    }
    const { pskIdentity } = parsePskClientKeyExchange(message.body);
    current = {
      ...current,
      phase: 'awaiting-psk',
      transcript: current.transcript.with(HandshakeType.clientKeyExchange, message.messageSeq, message.body),
      nextReceiveSeq: message.messageSeq + 1,
      identity: pskIdentity,
      changeCipherSpecSeen: false,
      pendingFinished: undefined,
    };
    actions.push({ type: 'lookup-psk', identity: pskIdentity });
  }
  return { state: current, actions };
}

function onEpochOneHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  if (state.phase === 'awaiting-client-key-exchange') return { state, actions: [] };
  if (state.phase === 'awaiting-psk' || !state.changeCipherSpecSeen) return { state: { ...state, pendingFinished: record }, actions: [] };
  return onFinished(state, record);
}

function onPsk(state: AwaitingPsk, key: Uint8Array | undefined): ServerHandshakeStep {
  const psk = key ?? new Uint8Array(randomBytes(DUMMY_PSK_LENGTH));
  const master = masterSecret(pskPremasterSecret(psk), state.clientRandom, state.serverRandom);
  const block = keyBlock(master, state.clientRandom, state.serverRandom, AES_128_CCM_8_LAYOUT);
  const keys: SessionKeys = {
    read: { key: block.clientWriteKey, implicitIv: block.clientWriteIv },
    write: { key: block.serverWriteKey, implicitIv: block.serverWriteIv },
  };
  const next: AwaitingFinished = { ...state, phase: 'awaiting-finished', master, keys, pendingFinished: undefined };
  if (state.changeCipherSpecSeen && state.pendingFinished !== undefined) return onFinished(next, state.pendingFinished);
  return { state: state.pendingFinished === undefined ? next : { ...next, pendingFinished: state.pendingFinished }, actions: [] };
}

function onFinished(state: AwaitingFinished, record: DtlsRecord): ServerHandshakeStep {
  let plaintext: Uint8Array;
  try {
    plaintext = decryptCcm8(state.keys.read, record, record.fragment);
  } catch (error) {
    if (!isBadRecordMacError(error)) throw error;
    // A wrong key and an unknown identity both land here, and end the same way.
    return fail(state, AlertDescription.decryptError);
  }
  let message: HandshakeFragment | undefined;
  let received: Uint8Array;
  try {
    const messages = wholeMessages({ ...record, fragment: plaintext });
    message = messages[0];
    if (messages.length !== 1 || message === undefined || message.msgType !== HandshakeType.finished || message.messageSeq !== state.nextReceiveSeq) {
      return fail(state, AlertDescription.unexpectedMessage);
    }
    received = parseFinished(message.body);
  } catch (error) {
    if (error instanceof CodecError) return fail(state, AlertDescription.decodeError);
    throw error;
  }
  const expected = verifyData(state.master, 'client finished', state.transcript.hash());
  if (!timingSafeEqual(received, expected)) return fail(state, AlertDescription.decryptError);

  const transcript = state.transcript.with(HandshakeType.finished, message.messageSeq, message.body);
  const serverFinished = serializeHandshake(
    HandshakeType.finished,
    state.nextSendSeq,
    serializeFinished(verifyData(state.master, 'server finished', transcript.hash())),
  );
  const window = new ReplayWindow();
  window.markReceived(record.sequenceNumber);
  const finishedContext = { type: ContentType.handshake, version: DTLS_1_2, epoch: 1, sequenceNumber: 0 };
  const finishedRecord: DtlsRecord = { ...finishedContext, fragment: encryptCcm8(state.keys.write, finishedContext, serverFinished) };
  const session = new EstablishedSession(state.keys, 1, 1, window);
  const changeCipherSpec = plainRecord(ContentType.changeCipherSpec, state.nextRecordSeq, new Uint8Array([1]));
  return {
    state: { phase: 'established', identity: state.identity, session, serverFinished, nextRecordSeq: state.nextRecordSeq + 1 },
    actions: [
      { type: 'send', records: [changeCipherSpec, finishedRecord] },
      { type: 'established', identity: state.identity, session },
    ],
  };
}

/**
 * After the handshake only a retransmitted client Finished concerns this machine: our last flight
 * was lost, so it goes out again (RFC 6347 4.2.4). Application data is the session's business.
 */
function onEstablishedRecord(state: Established, record: DtlsRecord): ServerHandshakeStep {
  if (record.type !== ContentType.handshake || record.epoch !== state.session.epoch) return { state, actions: [] };
  const opened = state.session.open(record);
  if (opened === undefined) return { state, actions: [] };
  const messages = wholeMessages({ ...record, fragment: opened.plaintext });
  if (!messages.every((message) => message.msgType === HandshakeType.finished)) return { state, actions: [] };
  const records = [
    plainRecord(ContentType.changeCipherSpec, state.nextRecordSeq, new Uint8Array([1])),
    state.session.protect(ContentType.handshake, state.serverFinished),
  ];
  return { state: { ...state, nextRecordSeq: state.nextRecordSeq + 1 }, actions: [{ type: 'send', records }] };
}
