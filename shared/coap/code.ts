import { CodecError } from '../errors.ts';

/**
 * CoAP message codes (RFC 7252 3. and 12.1): an 8-bit value, a 3-bit class and a 5-bit detail,
 * written "c.dd". 0.00 is the Empty message, 0.01-0.31 are methods, 2.00-5.31 responses;
 * classes 1, 6 and 7 are reserved.
 */
export const CoapCode = {
  EMPTY: 0x00,
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05, // RFC 8132
  PATCH: 0x06, // RFC 8132
  IPATCH: 0x07, // RFC 8132
  CREATED: 0x41, // 2.01
  DELETED: 0x42, // 2.02
  VALID: 0x43, // 2.03
  CHANGED: 0x44, // 2.04
  CONTENT: 0x45, // 2.05
  CONTINUE: 0x5f, // 2.31, RFC 7959
  BAD_REQUEST: 0x80, // 4.00
  UNAUTHORIZED: 0x81, // 4.01
  BAD_OPTION: 0x82, // 4.02
  FORBIDDEN: 0x83, // 4.03
  NOT_FOUND: 0x84, // 4.04
  METHOD_NOT_ALLOWED: 0x85, // 4.05
  NOT_ACCEPTABLE: 0x86, // 4.06
  REQUEST_ENTITY_INCOMPLETE: 0x88, // 4.08, RFC 7959
  CONFLICT: 0x89, // 4.09, RFC 8132
  PRECONDITION_FAILED: 0x8c, // 4.12
  REQUEST_ENTITY_TOO_LARGE: 0x8d, // 4.13
  UNSUPPORTED_CONTENT_FORMAT: 0x8f, // 4.15
  UNPROCESSABLE_ENTITY: 0x96, // 4.22, RFC 8132
  TOO_MANY_REQUESTS: 0x9d, // 4.29, RFC 8516
  INTERNAL_SERVER_ERROR: 0xa0, // 5.00
  NOT_IMPLEMENTED: 0xa1, // 5.01
  BAD_GATEWAY: 0xa2, // 5.02
  SERVICE_UNAVAILABLE: 0xa3, // 5.03
  GATEWAY_TIMEOUT: 0xa4, // 5.04
  PROXYING_NOT_SUPPORTED: 0xa5, // 5.05
  HOP_LIMIT_REACHED: 0xa8, // 5.08, RFC 8768
} as const;
export type CoapCode = (typeof CoapCode)[keyof typeof CoapCode];

const NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [CoapCode.EMPTY, 'Empty'],
  [CoapCode.GET, 'GET'],
  [CoapCode.POST, 'POST'],
  [CoapCode.PUT, 'PUT'],
  [CoapCode.DELETE, 'DELETE'],
  [CoapCode.FETCH, 'FETCH'],
  [CoapCode.PATCH, 'PATCH'],
  [CoapCode.IPATCH, 'iPATCH'],
  [CoapCode.CREATED, 'Created'],
  [CoapCode.DELETED, 'Deleted'],
  [CoapCode.VALID, 'Valid'],
  [CoapCode.CHANGED, 'Changed'],
  [CoapCode.CONTENT, 'Content'],
  [CoapCode.CONTINUE, 'Continue'],
  [CoapCode.BAD_REQUEST, 'Bad Request'],
  [CoapCode.UNAUTHORIZED, 'Unauthorized'],
  [CoapCode.BAD_OPTION, 'Bad Option'],
  [CoapCode.FORBIDDEN, 'Forbidden'],
  [CoapCode.NOT_FOUND, 'Not Found'],
  [CoapCode.METHOD_NOT_ALLOWED, 'Method Not Allowed'],
  [CoapCode.NOT_ACCEPTABLE, 'Not Acceptable'],
  [CoapCode.REQUEST_ENTITY_INCOMPLETE, 'Request Entity Incomplete'],
  [CoapCode.CONFLICT, 'Conflict'],
  [CoapCode.PRECONDITION_FAILED, 'Precondition Failed'],
  [CoapCode.REQUEST_ENTITY_TOO_LARGE, 'Request Entity Too Large'],
  [CoapCode.UNSUPPORTED_CONTENT_FORMAT, 'Unsupported Content-Format'],
  [CoapCode.UNPROCESSABLE_ENTITY, 'Unprocessable Entity'],
  [CoapCode.TOO_MANY_REQUESTS, 'Too Many Requests'],
  [CoapCode.INTERNAL_SERVER_ERROR, 'Internal Server Error'],
  [CoapCode.NOT_IMPLEMENTED, 'Not Implemented'],
  [CoapCode.BAD_GATEWAY, 'Bad Gateway'],
  [CoapCode.SERVICE_UNAVAILABLE, 'Service Unavailable'],
  [CoapCode.GATEWAY_TIMEOUT, 'Gateway Timeout'],
  [CoapCode.PROXYING_NOT_SUPPORTED, 'Proxying Not Supported'],
  [CoapCode.HOP_LIMIT_REACHED, 'Hop Limit Reached'],
]);

export function codeClass(code: number): number {
  return (code >> 5) & 0x07;
}

export function codeDetail(code: number): number {
  return code & 0x1f;
}

export function makeCode(codeClassValue: number, detail: number): number {
  if (!Number.isInteger(codeClassValue) || codeClassValue < 0 || codeClassValue > 7) {
    throw new CodecError('OUT_OF_RANGE', 'code class must be an integer 0..7', { field: 'code' });
  }
  if (!Number.isInteger(detail) || detail < 0 || detail > 31) {
    throw new CodecError('OUT_OF_RANGE', 'code detail must be an integer 0..31', { field: 'code' });
  }
  return (codeClassValue << 5) | detail;
}

/** "2.04" for 0x44. */
export function formatCode(code: number): string {
  return `${codeClass(code)}.${String(codeDetail(code)).padStart(2, '0')}`;
}

/** 0x44 for "2.04"; the detail must be written with two digits, as RFC 7252 12.1 does. */
export function parseCode(text: string): number {
  const match = /^([0-7])\.([0-9]{2})$/.exec(text);
  if (match === null) {
    throw new CodecError('MALFORMED', 'a CoAP code is written c.dd, e.g. 2.04', { field: 'code' });
  }
  return makeCode(Number(match[1]), Number(match[2]));
}

/** "Changed" for 2.04; undefined for codes that no registry entry we know names. */
export function codeName(code: number): string | undefined {
  return NAMES.get(code);
}

/** "2.04 Changed", or just "2.04" for an unnamed code: for logs and diagnostics. */
export function describeCode(code: number): string {
  const name = NAMES.get(code);
  return name === undefined ? formatCode(code) : `${formatCode(code)} ${name}`;
}

export function isEmptyCode(code: number): boolean {
  return code === CoapCode.EMPTY;
}

export function isRequestCode(code: number): boolean {
  return codeClass(code) === 0 && code !== CoapCode.EMPTY;
}

export function isResponseCode(code: number): boolean {
  const value = codeClass(code);
  return value >= 2 && value <= 5;
}

/** Classes 1, 6 and 7: RFC 7252 4.2/4.3 say a message using one is rejected. */
export function isReservedCodeClass(code: number): boolean {
  const value = codeClass(code);
  return value === 1 || value === 6 || value === 7;
}
