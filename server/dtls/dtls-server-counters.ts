/**
 * What a DtlsServer counts, for operators: the handshake outcomes and the records it dropped,
 * which are otherwise silent by design (RFC 6347 section 4.1.2.7).
 */

/** A snapshot of what the server has done since it opened. */
export interface DtlsServerCounters {
  readonly helloVerifyRequests: number;
  readonly handshakesStarted: number;
  readonly handshakesCompleted: number;
  /** Ended by an alert, sent or received, including a hello with nothing acceptable. */
  readonly handshakesFailed: number;
  /** Forgotten because the handshake did not finish within handshakeTimeoutMs. */
  readonly handshakesTimedOut: number;
  /** Datagrams or records that were malformed, unauthenticated, replayed or unexpected. */
  readonly recordsDropped: number;
  readonly peers: number;
}

/** The counts the server keeps itself; `peers` is read from the peer table when asked. */
export type Counter = Exclude<keyof DtlsServerCounters, 'peers'>;

export function zeroCounters(): Record<Counter, number> {
  return {
    helloVerifyRequests: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    handshakesTimedOut: 0,
    recordsDropped: 0,
  };
}
