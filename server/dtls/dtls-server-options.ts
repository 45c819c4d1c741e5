/**
 * What a DtlsServer is opened with, its defaults, and the checks made before any socket is bound,
 * so a bad configuration fails at start-up rather than as handshakes that never complete.
 */
import { DEFAULT_CIPHER_SUITES, SUPPORTED_CIPHER_SUITES } from './cipher-suite.ts';
import type { ClientAddress } from './cookie.ts';
import { datagramLimit } from './datagram-packing.ts';
import { DEFAULT_MAX_HANDSHAKE_FRAGMENT } from './handshake-flight.ts';
import type { ServerHandshakeConfig } from './server-handshake.ts';

const DEFAULT_MAX_PEERS = 10_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_RETRANSMIT_INITIAL_MS = 1_000;

export interface DtlsPeer extends ClientAddress {
  /** The PSK identity the peer authenticated with, as text. */
  readonly identity: string;
}

export interface DtlsServerOptions {
  readonly port: number;
  readonly host: string;
  /** The key for a PSK identity, or undefined when the identity is unknown. */
  lookupPsk(identity: string): Promise<Uint8Array | undefined>;
  onApplicationData(peer: DtlsPeer, data: Uint8Array, reply: (data: Uint8Array) => void): void;
  readonly maxPeers?: number;
  readonly handshakeTimeoutMs?: number;
  /** Cipher suites in server preference order; default CCM_8 (0xC0A8), then CBC_SHA256 (0x00AE). */
  readonly cipherSuites?: readonly number[];
  /** Most handshake body bytes per outgoing fragment; larger messages are sent fragmented. Default 1024. */
  readonly maxHandshakeFragment?: number;
  /** First flight retransmission timeout; it doubles up to 60 s. Default 1000 ms. */
  readonly retransmitInitialMs?: number;
  /** A handshake ended with an alert, sent or received (never called with keys). */
  onHandshakeFailed?(client: ClientAddress, alert: number): void;
  /** An established peer ended its session with close_notify or a fatal alert. */
  onPeerClosed?(peer: DtlsPeer): void;
}

/** The options with every default filled in, and what follows from them. */
export interface DtlsServerSettings {
  readonly maxPeers: number;
  readonly handshakeTimeoutMs: number;
  readonly retransmitInitialMs: number;
  readonly handshake: ServerHandshakeConfig;
  /** Largest outgoing datagram for a flight, from maxHandshakeFragment. */
  readonly datagramLimit: number;
}

/** Checks the options (RangeError for one no handshake could work with), then fills in defaults. */
export function serverSettings(options: DtlsServerOptions): DtlsServerSettings {
  checkOptions(options);
  const maxHandshakeFragment = options.maxHandshakeFragment ?? DEFAULT_MAX_HANDSHAKE_FRAGMENT;
  return {
    maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    retransmitInitialMs: options.retransmitInitialMs ?? DEFAULT_RETRANSMIT_INITIAL_MS,
    handshake: { cipherSuites: options.cipherSuites ?? DEFAULT_CIPHER_SUITES, maxHandshakeFragment },
    datagramLimit: datagramLimit(maxHandshakeFragment),
  };
}

function checkOptions(options: DtlsServerOptions): void {
  const suites = options.cipherSuites;
  if (suites !== undefined && (suites.length === 0 || !suites.every((suite) => SUPPORTED_CIPHER_SUITES.includes(suite)))) {
    throw new RangeError(`cipherSuites must be a non-empty subset of ${SUPPORTED_CIPHER_SUITES.map((suite) => `0x${suite.toString(16)}`).join(', ')}`);
  }
  const fragment = options.maxHandshakeFragment;
  if (fragment !== undefined && (!Number.isInteger(fragment) || fragment < 1)) throw new RangeError('maxHandshakeFragment must be a positive integer');
  const retransmit = options.retransmitInitialMs;
  if (retransmit !== undefined && !(retransmit > 0)) throw new RangeError('retransmitInitialMs must be positive');
}
