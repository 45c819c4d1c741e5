import { describeCode } from '../../shared/coap/code.ts';

/** Our CON request went unanswered through MAX_RETRANSMIT retransmissions (RFC 7252 4.2). */
export class CoapTimeoutError extends Error {
  constructor(message = 'CoAP request timed out: no acknowledgement after all retransmissions') {
    super(message);
    this.name = 'CoapTimeoutError';
  }
}

/** The peer rejected our message with a Reset. */
export class CoapResetError extends Error {
  constructor() {
    super('CoAP peer answered with a Reset');
    this.name = 'CoapResetError';
  }
}

/** The endpoint was closed while the request was pending. */
export class CoapClosedError extends Error {
  constructor() {
    super('CoAP endpoint closed');
    this.name = 'CoapClosedError';
  }
}

/** A blockwise transfer the peer broke off or garbled, or too many requests outstanding. */
export class CoapTransferError extends Error {
  readonly code: number | undefined;
  constructor(message: string, code?: number) {
    super(code === undefined ? message : `${message} (${describeCode(code)})`);
    this.name = 'CoapTransferError';
    this.code = code;
  }
}
