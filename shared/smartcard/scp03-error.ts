/**
 * Every SCP03 failure on the off-card side is an Scp03Error: a stable `code` a caller can branch
 * on and a one-line message. Messages name what was wrong (which check, which length), never the
 * bytes of a key, a session key, a cryptogram or a MAC, so they are safe to log.
 */
export type Scp03ErrorCode =
  | 'KEY' // a static or session key of a length AES does not take
  | 'MALFORMED_APDU' // bytes that are not a command or response APDU, or a field of the wrong size
  | 'UNSUPPORTED' // valid GlobalPlatform, but not SCP03 in S8 mode as implemented here
  | 'KEY_VERSION' // the card answered with a key set other than the one asked for
  | 'SECURITY_LEVEL' // a security level SCP03 does not define, or one the card cannot provide
  | 'CARD_CRYPTOGRAM' // the card did not prove knowledge of the static keys
  | 'HOST_CRYPTOGRAM' // (card side) the host did not prove knowledge of the static keys
  | 'MAC' // a C-MAC or R-MAC that does not verify
  | 'PADDING' // decrypted data without ISO/IEC 7816-4 padding
  | 'STATUS' // the card answered with an error status word
  | 'SEQUENCE'; // a step out of order: wrap before authentication, use after close, ...

export class Scp03Error extends Error {
  readonly code: Scp03ErrorCode;
  /** The card's status word when `code` is 'STATUS'. */
  readonly statusWord: number | undefined;

  constructor(code: Scp03ErrorCode, message: string, statusWord?: number) {
    super(message);
    this.name = 'Scp03Error';
    this.code = code;
    this.statusWord = statusWord;
  }
}

export function isScp03Error(error: unknown): error is Scp03Error {
  return error instanceof Scp03Error;
}
