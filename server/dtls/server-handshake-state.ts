/**
 * The states, events and actions of the server's handshake machine (server-handshake.ts), and the
 * one way every phase ends on an error it detects: a fatal alert sent, then nothing more.
 *
 * States are immutable values, so the caller can keep the previous one when a step throws on a
 * malformed record (the datagram is then dropped, RFC 6347 section 4.1.2.7).
 */
import { DEFAULT_CIPHER_SUITES, type CipherSuite } from './cipher-suite.ts';
import { alertRecord } from './epoch-zero-records.ts';
import type { EstablishedSession } from './established-session.ts';
import { DEFAULT_MAX_HANDSHAKE_FRAGMENT } from './handshake-flight.ts';
import type { HandshakeReassembly } from './handshake-reassembly.ts';
import type { HandshakeTranscript } from './handshake-transcript.ts';
import type { SessionCiphers } from './record-cipher.ts';
import type { DtlsRecord } from './record.ts';

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

export type Handshaking = Exclude<ServerHandshakeState, { phase: 'established' } | { phase: 'failed' }>;
export type AwaitingClientKeyExchange = Extract<ServerHandshakeState, { phase: 'awaiting-client-key-exchange' }>;
export type AwaitingPsk = Extract<ServerHandshakeState, { phase: 'awaiting-psk' }>;
export type AwaitingFinished = Extract<ServerHandshakeState, { phase: 'awaiting-finished' }>;
export type Established = Extract<ServerHandshakeState, { phase: 'established' }>;

/** Whether the machine is waiting for the client's flight after its ServerHello flight, the one wait the timer covers. */
export function awaitsClientFlight(state: ServerHandshakeState): boolean {
  return state.phase === 'awaiting-client-key-exchange';
}

export function fail(state: { readonly nextRecordSeq: number }, alert: number): ServerHandshakeStep {
  return {
    state: { phase: 'failed', alert },
    actions: [
      { type: 'send', records: [alertRecord(alert, state.nextRecordSeq)] },
      { type: 'failed', alert, sent: true },
    ],
  };
}
