/**
 * Every decoder and encoder in shared/ reports bad input with a CodecError: a stable `code` a
 * caller can branch on, the byte `offset` or the `field` that was wrong, and a one-line message
 * that never contains key material.
 */
export type CodecErrorCode =
  | 'TRUNCATED' // input ends before a length it announced
  | 'TRAILING_BYTES' // bytes left after a complete value
  | 'MALFORMED' // structure that the format does not allow
  | 'UNSUPPORTED' // valid for the format, but not something this server accepts
  | 'TYPE_MISMATCH' // value does not fit the resource's declared type
  | 'INVALID_PATH' // LwM2M path syntax or a path outside the request path
  | 'DUPLICATE' // the same object, instance, resource or option twice where once is allowed
  | 'OUT_OF_RANGE' // number outside what the field can carry
  | 'LIMIT_EXCEEDED' // input larger than the bounds we decode (nesting, counts, sizes)
  | 'UNKNOWN_FORMAT'; // content format we do not know

export interface CodecErrorDetail {
  /** Byte offset into the input where the problem was found. */
  readonly offset?: number;
  /** Field, option, JSON pointer or LwM2M path that was wrong. */
  readonly field?: string;
}

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  readonly offset: number | undefined;
  readonly field: string | undefined;

  constructor(code: CodecErrorCode, message: string, detail: CodecErrorDetail = {}) {
    const where = [
      detail.offset === undefined ? undefined : `at offset ${detail.offset}`,
      detail.field === undefined ? undefined : `in ${detail.field}`,
    ].filter((part) => part !== undefined);
    super(where.length > 0 ? `${message} (${where.join(', ')})` : message);
    this.name = 'CodecError';
    this.code = code;
    this.offset = detail.offset;
    this.field = detail.field;
  }
}

export function isCodecError(error: unknown): error is CodecError {
  return error instanceof CodecError;
}
