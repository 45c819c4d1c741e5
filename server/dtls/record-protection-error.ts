/**
 * The single failure of record deprotection. Whatever went wrong (short fragment, bad tag,
 * wrong key, bad padding), the caller sees this one error with no detail, so neither timing of
 * distinct code paths nor error text tells an attacker which check failed (RFC 5246 6.2.3.2).
 */
export class BadRecordMacError extends Error {
  readonly code = 'BAD_RECORD_MAC';

  constructor() {
    super('record failed authentication');
    this.name = 'BadRecordMacError';
  }
}

export function isBadRecordMacError(error: unknown): error is BadRecordMacError {
  return error instanceof BadRecordMacError;
}
