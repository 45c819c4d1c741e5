/**
 * The fixed 4-byte CoAP header (RFC 7252 3.):
 *
 *   |Ver| T |  TKL  |     Code      |          Message ID           |
 *
 * Ver is 1; T is CON 0, NON 1, ACK 2, RST 3; TKL 0-8 (9-15 reserved); the Token follows.
 */
export type CoapType = 'CON' | 'NON' | 'ACK' | 'RST';

export const COAP_TYPES: readonly CoapType[] = ['CON', 'NON', 'ACK', 'RST'];

export const COAP_VERSION = 1;
export const HEADER_SIZE = 4;
export const MAX_TOKEN_LENGTH = 8;
export const MAX_MESSAGE_ID = 0xffff;

export interface CoapHeader {
  readonly type: CoapType;
  readonly code: number;
  readonly messageId: number;
  /** As announced, so 9..15 when the message is malformed for that reason. */
  readonly tokenLength: number;
  /** Present when tokenLength is 0..8 and the datagram holds that many token bytes. */
  readonly token?: Uint8Array;
}

/**
 * Reads just the header, for answering a message whose full parse failed: RFC 7252 4.2/4.3
 * reject a CON with a format error by a Reset echoing its Message ID. Undefined when the
 * datagram is shorter than 4 bytes or carries another version (RFC 7252 3.: silently ignored).
 */
export function parseCoapHeader(datagram: Uint8Array): CoapHeader | undefined {
  if (datagram.length < HEADER_SIZE) return undefined;
  const first = datagram[0]!;
  if (first >> 6 !== COAP_VERSION) return undefined;
  const tokenLength = first & 0x0f;
  const header = {
    type: COAP_TYPES[(first >> 4) & 0x03]!,
    code: datagram[1]!,
    messageId: (datagram[2]! << 8) | datagram[3]!,
    tokenLength,
  };
  if (tokenLength > MAX_TOKEN_LENGTH || HEADER_SIZE + tokenLength > datagram.length) return header;
  return { ...header, token: new Uint8Array(datagram.subarray(HEADER_SIZE, HEADER_SIZE + tokenLength)) };
}
