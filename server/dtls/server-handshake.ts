/**
 * The server side of a DTLS 1.2 PSK handshake (RFC 6347 section 4.2, RFC 4279, RFC 7925) for
 * TLS_PSK_WITH_AES_128_CCM_8 and TLS_PSK_WITH_AES_128_CBC_SHA256, as a state machine without
 * sockets or timers:
 *
 *   ClientHello (no cookie)       -> HelloVerifyRequest, and no state at all
 *   ClientHello (valid cookie)    -> ServerHello, ServerHelloDone         startServerHandshake
 *   retransmit event              -> the ServerHello flight again          stepServerHandshake
 *   ClientKeyExchange(identity)   -> lookup-psk action
 *   psk event                     -> keys
 *   ChangeCipherSpec, Finished    -> ChangeCipherSpec, Finished, established
 *
 * The PSK lookup is asynchronous, so it is an action out and an event in; the retransmission
 * timer (RFC 6347 4.2.4) is an event in as well, so the caller owns time. An unknown identity
 * continues with a random key and so fails exactly where a wrong key fails, at the client's
 * Finished, with the same decrypt_error alert (RFC 4279 section 2 lets a server hide
 * unknown_psk_identity that way). Handshake messages may arrive fragmented: they are reassembled
 * (handshake-reassembly.ts) before they are acted on; the stateless start takes whole ClientHellos
 * only (client-hello-assembly.ts reassembles those). Parse errors are CodecErrors thrown with the
 * state untouched, and the caller drops the datagram (RFC 6347 section 4.1.2.7).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CodecError } from '../../shared/errors.ts';
import { AlertDescription, AlertLevel, parseAlert, serializeAlert } from './alert.ts';
import { ByteReader } from './bytes.ts';
import { chooseCipherSuite, DEFAULT_CIPHER_SUITES, TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8, type CipherSuite } from './cipher-suite.ts';
import type { ClientAddress, HelloCookies } from './cookie.ts';
import { EstablishedSession } from './established-session.ts';
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
import { DEFAULT_MAX_HANDSHAKE_FRAGMENT, flightPayloads } from './handshake-flight.ts';
import { HandshakeReassembly } from './handshake-reassembly.ts';
import { HandshakeTranscript } from './handshake-transcript.ts';
import { keyBlock, masterSecret, pskPremasterSecret, verifyData } from './prf.ts';
import type { SessionCiphers } from './record-cipher.ts';
import { isBadRecordMacError } from './record-protection-error.ts';
import { ContentType, DTLS_1_0, DTLS_1_2, MAX_SEQUENCE_NUMBER, type DtlsRecord } from './record.ts';
import { ReplayWindow } from './replay-window.ts';

export { TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8 };
const NULL_COMPRESSION = 0;
/** RFC 5746: the SCSV a client offers instead of, or beside, the renegotiation_info extension. */
const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;
const RENEGOTIATION_INFO = 0xff01;
/** An empty renegotiation_info extension: type, length 1, an empty renegotiated_connection. */
const EMPTY_RENEGOTIATION_INFO = new Uint8Array([0xff, 0x01, 0x00, 0x01, 0x00]);
/** Stands in for the key of an unknown identity, so that case costs and ends like a wrong key. */
const DUMMY_PSK_LENGTH = 32;
/** Epoch 1 records held while the key lookup runs or the ChangeCipherSpec is missing. */
const MAX_PENDING_FINISHED_RECORDS = 8;
/** Epoch 0 record numbers a handshake may use after the client's hello: flights, resends, alerts. */
const EPOCH_ZERO_HEADROOM = 2 ** 16;

export interface ServerHandshakeConfig {
  /** Server preference order; the first one the client offers is chosen. */
  readonly cipherSuites: readonly number[];
  /** Most handshake body bytes per outgoing fragment. */
  readonly maxHandshakeFragment: number;
}

export const DEFAULT_HANDSHAKE_CONFIG: ServerHandshakeConfig = {
  cipherSuites: DEFAULT_CIPHER_SUITES,
  maxHandshakeFragment: DEFAULT_MAX_HANDSHAKE_FRAGMENT,
};

/** What every state between the verified ClientHello and the client's Finished carries. */
interface Negotiation {
  readonly suite: CipherSuite;
  readonly maxHandshakeFragment: number;
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
  /** The ServerHello flight as record payloads, kept to send again. */
  readonly serverHelloFlight: readonly Uint8Array[];
  /** Fragments of the epoch 0 message being received. */
  readonly reassembly: HandshakeReassembly;
}

/** The client's ChangeCipherSpec and epoch 1 records that may arrive before the keys exist. */
interface FinishedWait {
  readonly identity: Uint8Array;
  readonly changeCipherSpecSeen: boolean;
  readonly pendingFinished: readonly DtlsRecord[];
}

interface FinishedAssembly {
  readonly master: Uint8Array;
  readonly ciphers: SessionCiphers;
  /** Fragments of the client's Finished, which may span several epoch 1 records. */
  readonly finishedReassembly: HandshakeReassembly;
  /** Epoch 1 record numbers already authenticated: they seed the session's replay window. */
  readonly epochOneReceived: readonly number[];
}

export type ServerHandshakeState =
  | ({ readonly phase: 'awaiting-client-key-exchange' } & Negotiation)
  | ({ readonly phase: 'awaiting-psk' } & Negotiation & FinishedWait)
  | ({ readonly phase: 'awaiting-finished' } & Negotiation & FinishedWait & FinishedAssembly)
  | {
      readonly phase: 'established';
      readonly identity: Uint8Array;
      readonly suite: CipherSuite;
      readonly session: EstablishedSession;
      /** message_seq of the client's Finished: a retransmission of it gets our last flight again. */
      readonly clientFinishedSeq: number;
      /** The last flight's Finished as record payloads, protected anew when repeated. */
      readonly serverFinished: readonly Uint8Array[];
      /** Next record sequence number in epoch 0, for a repeated ChangeCipherSpec. */
      readonly nextRecordSeq: number;
    }
  | { readonly phase: 'failed'; readonly alert: number };

export type ServerHandshakeEvent =
  | { readonly type: 'record'; readonly record: DtlsRecord }
  /** The answer to lookup-psk; undefined when the identity is unknown. */
  | { readonly type: 'psk'; readonly key: Uint8Array | undefined }
  /** The lookup itself failed (the store is down): the client is told at once, not left to time out. */
  | { readonly type: 'psk-unavailable' }
  /** The retransmission timer expired while waiting for the client's flight (RFC 6347 4.2.4). */
  | { readonly type: 'retransmit' };

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

/** Whether the machine is waiting for the client's flight after its ServerHello flight, the one wait the timer covers. */
export function awaitsClientFlight(state: ServerHandshakeState): boolean {
  return state.phase === 'awaiting-client-key-exchange';
}

function plainRecord(type: ContentType, sequenceNumber: number, fragment: Uint8Array, version = DTLS_1_2): DtlsRecord {
  return { type, version, epoch: 0, sequenceNumber, fragment };
}

function alertRecord(description: number, sequenceNumber: number): DtlsRecord {
  return plainRecord(ContentType.alert, sequenceNumber, serializeAlert({ level: AlertLevel.fatal, description }));
}

/** Consecutive epoch 0 handshake records from `firstSeq`, one per payload. */
function plainFlight(payloads: readonly Uint8Array[], firstSeq: number): DtlsRecord[] {
  return payloads.map((payload, i) => plainRecord(ContentType.handshake, firstSeq + i, payload));
}

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

export function stepServerHandshake(state: ServerHandshakeState, event: ServerHandshakeEvent): ServerHandshakeStep {
  if (state.phase === 'failed') return { state, actions: [] };
  if (event.type === 'psk') return state.phase === 'awaiting-psk' ? onPsk(state, event.key) : { state, actions: [] };
  if (event.type === 'psk-unavailable') return state.phase === 'awaiting-psk' ? fail(state, AlertDescription.internalError) : { state, actions: [] };
  if (event.type === 'retransmit') return state.phase === 'awaiting-client-key-exchange' ? resendServerHelloFlight(state) : { state, actions: [] };
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
type AwaitingClientKeyExchange = Extract<ServerHandshakeState, { phase: 'awaiting-client-key-exchange' }>;
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

/** Our ServerHello flight again, under fresh record sequence numbers (RFC 6347 4.2.4). */
function resendServerHelloFlight(state: AwaitingClientKeyExchange): ServerHandshakeStep {
  if (state.nextRecordSeq + state.serverHelloFlight.length > MAX_SEQUENCE_NUMBER) return { state, actions: [] };
  const records = plainFlight(state.serverHelloFlight, state.nextRecordSeq);
  return { state: { ...state, nextRecordSeq: state.nextRecordSeq + records.length }, actions: [{ type: 'send', records }] };
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
  if (state.phase === 'awaiting-psk') return { state: { ...state, changeCipherSpecSeen: true }, actions: [] };
  return onFinishedRecords({ ...state, changeCipherSpecSeen: true, pendingFinished: [] }, state.pendingFinished);
}

function onHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  let current: Handshaking = state;
  const actions: ServerHandshakeAction[] = [];
  let resent = false;
  for (const fragment of parseHandshakeFragments(record.fragment)) {
    if (current.phase === 'awaiting-client-key-exchange' && fragment.messageSeq === current.clientHelloSeq && fragment.msgType === HandshakeType.clientHello) {
      // The client repeats its hello, so our flight was lost: send it again, once per record
      // and only for the hello's first fragment, so a fragmented hello costs one flight, not many.
      if (fragment.fragmentOffset === 0 && !resent) {
        const step = resendServerHelloFlight(current);
        actions.push(...step.actions);
        current = step.state as AwaitingClientKeyExchange;
        resent = true;
      }
      continue;
    }
    // Older messages are retransmissions, later ones arrive too early: the client repeats its flight.
    if (fragment.messageSeq !== current.nextReceiveSeq) continue;
    if (current.phase !== 'awaiting-client-key-exchange' || fragment.msgType !== HandshakeType.clientKeyExchange) {
      const failed = fail(current, AlertDescription.unexpectedMessage);
      return { state: failed.state, actions: [...actions, ...failed.actions] };
    }
    const step = current.reassembly.add(fragment);
    current = { ...current, reassembly: step.reassembly };
    if (step.message === undefined) continue;
    const { pskIdentity } = parsePskClientKeyExchange(step.message.body);
    current = {
      ...current,
      phase: 'awaiting-psk',
      transcript: current.transcript.with(HandshakeType.clientKeyExchange, step.message.messageSeq, step.message.body),
      nextReceiveSeq: step.message.messageSeq + 1,
      reassembly: step.reassembly.discardBefore(step.message.messageSeq + 1),
      identity: pskIdentity,
      changeCipherSpecSeen: false,
      pendingFinished: [],
    };
    actions.push({ type: 'lookup-psk', identity: pskIdentity });
  }
  return { state: current, actions };
}

function onEpochOneHandshake(state: Handshaking, record: DtlsRecord): ServerHandshakeStep {
  if (state.phase === 'awaiting-client-key-exchange') return { state, actions: [] };
  if (state.phase === 'awaiting-psk' || !state.changeCipherSpecSeen) {
    if (state.pendingFinished.length >= MAX_PENDING_FINISHED_RECORDS) return { state, actions: [] };
    return { state: { ...state, pendingFinished: [...state.pendingFinished, record] }, actions: [] };
  }
  return onFinishedRecord(state, record);
}

function onPsk(state: AwaitingPsk, key: Uint8Array | undefined): ServerHandshakeStep {
  const psk = key ?? new Uint8Array(randomBytes(DUMMY_PSK_LENGTH));
  const master = masterSecret(pskPremasterSecret(psk), state.clientRandom, state.serverRandom);
  const block = keyBlock(master, state.clientRandom, state.serverRandom, state.suite.layout);
  const next: AwaitingFinished = {
    ...state,
    phase: 'awaiting-finished',
    master,
    ciphers: state.suite.ciphers(block),
    finishedReassembly: new HandshakeReassembly(),
    epochOneReceived: [],
  };
  if (!state.changeCipherSpecSeen) return { state: next, actions: [] };
  return onFinishedRecords({ ...next, pendingFinished: [] }, state.pendingFinished);
}

/** Epoch 1 records in arrival order, until the handshake ends one way or the other. */
function onFinishedRecords(state: AwaitingFinished, records: readonly DtlsRecord[]): ServerHandshakeStep {
  let current: ServerHandshakeState = state;
  const actions: ServerHandshakeAction[] = [];
  for (const record of records) {
    if (current.phase !== 'awaiting-finished') break;
    const step = onFinishedRecord(current, record);
    current = step.state;
    actions.push(...step.actions);
  }
  return { state: current, actions };
}

function onFinishedRecord(state: AwaitingFinished, record: DtlsRecord): ServerHandshakeStep {
  // A repeated record adds nothing; opening it again would only cost time.
  if (state.epochOneReceived.includes(record.sequenceNumber)) return { state, actions: [] };
  let plaintext: Uint8Array;
  try {
    plaintext = state.ciphers.read.open(record, record.fragment);
  } catch (error) {
    if (!isBadRecordMacError(error)) throw error;
    // A wrong key and an unknown identity both land here, and end the same way.
    return fail(state, AlertDescription.decryptError);
  }
  let reassembly = state.finishedReassembly;
  let message: { readonly messageSeq: number; readonly body: Uint8Array } | undefined;
  try {
    for (const fragment of parseHandshakeFragments(plaintext)) {
      if (fragment.msgType !== HandshakeType.finished || fragment.messageSeq !== state.nextReceiveSeq) return fail(state, AlertDescription.unexpectedMessage);
      const step = reassembly.add(fragment);
      if (step.dropped) return fail(state, AlertDescription.illegalParameter);
      reassembly = step.reassembly;
      message ??= step.message;
    }
  } catch (error) {
    if (error instanceof CodecError) return fail(state, AlertDescription.decodeError);
    throw error;
  }
  const epochOneReceived = [...state.epochOneReceived, record.sequenceNumber];
  if (message === undefined) return { state: { ...state, finishedReassembly: reassembly, epochOneReceived }, actions: [] };

  let received: Uint8Array;
  try {
    received = parseFinished(message.body);
  } catch (error) {
    if (error instanceof CodecError) return fail(state, AlertDescription.decodeError);
    throw error;
  }
  const expected = verifyData(state.master, 'client finished', state.transcript.hash());
  if (!timingSafeEqual(received, expected)) return fail(state, AlertDescription.decryptError);

  const transcript = state.transcript.with(HandshakeType.finished, message.messageSeq, message.body);
  const serverFinished = flightPayloads(
    [{ msgType: HandshakeType.finished, messageSeq: state.nextSendSeq, body: serializeFinished(verifyData(state.master, 'server finished', transcript.hash())) }],
    state.maxHandshakeFragment,
  );
  const window = new ReplayWindow();
  for (const sequenceNumber of epochOneReceived) window.markReceived(sequenceNumber);
  const session = new EstablishedSession(state.ciphers, 1, 0, window);
  const changeCipherSpec = plainRecord(ContentType.changeCipherSpec, state.nextRecordSeq, new Uint8Array([1]));
  const finishedRecords = serverFinished.map((payload) => session.protect(ContentType.handshake, payload));
  return {
    state: {
      phase: 'established',
      identity: state.identity,
      suite: state.suite,
      session,
      clientFinishedSeq: message.messageSeq,
      serverFinished,
      nextRecordSeq: state.nextRecordSeq + 1,
    },
    actions: [
      { type: 'send', records: [changeCipherSpec, ...finishedRecords] },
      { type: 'established', identity: state.identity, session },
    ],
  };
}

/**
 * After the handshake only epoch 1 handshake records concern this machine. A retransmitted client
 * Finished means our last flight was lost, so it goes out again (RFC 6347 4.2.4). A ClientHello
 * inside the session asks for renegotiation, which is refused with a warning no_renegotiation
 * alert (RFC 5246 7.2.2) and the session goes on. Application data is the session's business.
 */
function onEstablishedRecord(state: Established, record: DtlsRecord): ServerHandshakeStep {
  if (record.type !== ContentType.handshake || record.epoch !== state.session.epoch) return { state, actions: [] };
  const opened = state.session.open(record);
  if (opened === undefined) return { state, actions: [] };
  const fragments = parseHandshakeFragments(opened.plaintext);
  // First fragments only, so a fragmented message is answered once.
  const starts = fragments.filter((fragment) => fragment.fragmentOffset === 0);
  if (starts.some((fragment) => fragment.msgType === HandshakeType.clientHello)) {
    const alert = serializeAlert({ level: AlertLevel.warning, description: AlertDescription.noRenegotiation });
    return { state, actions: [{ type: 'send', records: [state.session.protect(ContentType.alert, alert)] }] };
  }
  if (!starts.some((fragment) => fragment.msgType === HandshakeType.finished && fragment.messageSeq === state.clientFinishedSeq)) {
    return { state, actions: [] };
  }
  const records = [
    plainRecord(ContentType.changeCipherSpec, state.nextRecordSeq, new Uint8Array([1])),
    ...state.serverFinished.map((payload) => state.session.protect(ContentType.handshake, payload)),
  ];
  return { state: { ...state, nextRecordSeq: state.nextRecordSeq + 1 }, actions: [{ type: 'send', records }] };
}
