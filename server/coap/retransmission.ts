/** RFC 7252 4.8 transmission parameters. */
export interface TransmissionParameters {
  readonly ackTimeoutMs: number;
  readonly ackRandomFactor: number;
  readonly maxRetransmit: number;
}

/** ACK_TIMEOUT * a random factor in [1, ACK_RANDOM_FACTOR) (RFC 7252 4.2). */
export function initialTimeoutMs(parameters: TransmissionParameters, random: () => number = Math.random): number {
  return parameters.ackTimeoutMs * (1 + random() * (parameters.ackRandomFactor - 1));
}

/** MAX_TRANSMIT_WAIT (RFC 7252 4.8.2): the longest a CON sender waits for an ACK. */
export function maxTransmitWaitMs(parameters: TransmissionParameters): number {
  return parameters.ackTimeoutMs * (2 ** (parameters.maxRetransmit + 1) - 1) * parameters.ackRandomFactor;
}

export interface RetransmissionHooks {
  /** Puts the (same) datagram on the wire. */
  send(): void;
  onRetransmit(): void;
  /** MAX_RETRANSMIT retransmissions went unacknowledged. */
  onGiveUp(): void;
}

/**
 * A Confirmable message on the wire: sent, then resent with the timeout doubling each time
 * until stop() (the ACK, a Reset or the response arrived) or give-up after MAX_RETRANSMIT.
 */
export class Retransmission {
  readonly #parameters: TransmissionParameters;
  readonly #hooks: RetransmissionHooks;
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs = 0;
  #retransmissions = 0;
  #stopped = false;

  constructor(parameters: TransmissionParameters, hooks: RetransmissionHooks) {
    this.#parameters = parameters;
    this.#hooks = hooks;
  }

  start(): void {
    this.#timeoutMs = initialTimeoutMs(this.#parameters);
    this.#hooks.send();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#expired(), this.#timeoutMs);
    this.#timer.unref();
  }

  #expired(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#retransmissions >= this.#parameters.maxRetransmit) {
      this.#stopped = true;
      this.#hooks.onGiveUp();
      return;
    }
    this.#retransmissions += 1;
    this.#timeoutMs *= 2;
    this.#hooks.onRetransmit();
    this.#hooks.send();
    this.#schedule();
  }
}
