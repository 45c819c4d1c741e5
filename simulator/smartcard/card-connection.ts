/**
 * What the device holds to talk to a card: APDU bytes in, APDU bytes out, as a PC/SC reader or a
 * modem's AT+CSIM gives it. A test may put something between the device and the card (to tamper
 * with bytes on the way) by implementing the same interface.
 */
export interface CardConnection {
  transmit(command: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** A warm reset (ISO/IEC 7816-3): no session, no open logical channel, nothing selected. */
  reset?(): void | Promise<void>;
}

/** The reader found no card in the slot: it was never inserted, or it was taken out. */
export class CardRemovedError extends Error {
  constructor(message = 'no smartcard in the reader') {
    super(message);
    this.name = 'CardRemovedError';
  }
}

export function isCardRemovedError(error: unknown): error is CardRemovedError {
  return error instanceof CardRemovedError;
}
