import { CodecError } from '../errors.ts';
import { CoapCode } from './code.ts';
import { COAP_TYPES, COAP_VERSION, HEADER_SIZE, MAX_MESSAGE_ID, MAX_TOKEN_LENGTH } from './header.ts';
import type { CoapType } from './header.ts';
import { MAX_OPTION_NUMBER, optionName } from './option.ts';
import type { CoapOptions } from './option.ts';
import { OptionsReader, encodeOptions } from './options-codec.ts';

/**
 * A CoAP message over UDP (RFC 7252 3.):
 *
 *   header (4) | token (TKL bytes) | options (delta-encoded) | 0xFF | payload
 *
 * Each option starts with a byte | delta (4 bits) | length (4 bits) |; 13 and 14 in a nibble
 * announce 1 extra byte (value - 13) or 2 (value - 269), 15 is reserved, except that 0xFF as a
 * whole is the payload marker.
 */
export interface CoapMessage {
  readonly type: CoapType;
  /** The 8-bit code; see code.ts for 0.01 GET, 2.04 Changed and so on. */
  readonly code: number;
  readonly messageId: number;
  /** 0..8 bytes. */
  readonly token: Uint8Array;
  readonly options: CoapOptions;
  readonly payload: Uint8Array;
}

const PAYLOAD_MARKER = 0xff;
const RESERVED_NIBBLE = 15;
const EMPTY_BYTES = new Uint8Array(0);

/**
 * Parses one datagram. Everything returned is a copy, never a view into `datagram`.
 * Unknown options land in `options.others`; see unrecognizedCriticalOptions for 4.02.
 */
export function parseCoapMessage(datagram: Uint8Array): CoapMessage {
  const length = datagram.length;
  if (length < HEADER_SIZE) {
    throw new CodecError('TRUNCATED', `a CoAP message has a 4-byte header, got ${length} bytes`, { offset: length });
  }
  const first = datagram[0]!;
  if (first >> 6 !== COAP_VERSION) {
    throw new CodecError('UNSUPPORTED', `CoAP version ${first >> 6} (only 1 exists)`, { offset: 0, field: 'Ver' });
  }
  const tokenLength = first & 0x0f;
  if (tokenLength > MAX_TOKEN_LENGTH) {
    throw new CodecError('MALFORMED', `token length ${tokenLength} is reserved (0..8 allowed)`, {
      offset: 0,
      field: 'TKL',
    });
  }
  const code = datagram[1]!;
  // RFC 7252 4.1: an Empty message ends after the Message ID; anything else is a format error.
  if (code === CoapCode.EMPTY && (tokenLength !== 0 || length > HEADER_SIZE)) {
    throw new CodecError('MALFORMED', 'an Empty message (0.00) carries no token, options or payload', {
      offset: tokenLength !== 0 ? 0 : HEADER_SIZE,
    });
  }
  const optionsStart = HEADER_SIZE + tokenLength;
  if (optionsStart > length) {
    throw new CodecError('TRUNCATED', `token of ${tokenLength} bytes runs past the end`, {
      offset: HEADER_SIZE,
      field: 'Token',
    });
  }

  const reader = new OptionsReader();
  let payload = EMPTY_BYTES;
  let offset = optionsStart;
  let number = 0;
  while (offset < length) {
    const start = offset;
    const byte = datagram[offset++]!;
    if (byte === PAYLOAD_MARKER) {
      // RFC 7252 3.: a marker followed by a zero-length payload is a message format error.
      if (offset === length) {
        throw new CodecError('MALFORMED', 'payload marker without a payload', { offset: start });
      }
      payload = new Uint8Array(datagram.subarray(offset));
      break;
    }
    const deltaNibble = byte >> 4;
    const lengthNibble = byte & 0x0f;
    if (deltaNibble === RESERVED_NIBBLE) {
      throw new CodecError('MALFORMED', 'option delta 15 is reserved', { offset: start, field: 'Option Delta' });
    }
    if (lengthNibble === RESERVED_NIBBLE) {
      throw new CodecError('MALFORMED', 'option length 15 is reserved', { offset: start, field: 'Option Length' });
    }
    const delta = readExtended(datagram, offset, deltaNibble, 'Option Delta');
    offset += extensionSize(deltaNibble);
    const valueLength = readExtended(datagram, offset, lengthNibble, 'Option Length');
    offset += extensionSize(lengthNibble);
    number += delta;
    if (number > MAX_OPTION_NUMBER) {
      throw new CodecError('OUT_OF_RANGE', `option number ${number} exceeds ${MAX_OPTION_NUMBER}`, { offset: start });
    }
    if (valueLength > length - offset) {
      throw new CodecError('TRUNCATED', `option value of ${valueLength} bytes runs past the end`, {
        offset: start,
        field: optionName(number),
      });
    }
    reader.add(number, datagram.subarray(offset, offset + valueLength), start);
    offset += valueLength;
  }

  return {
    type: COAP_TYPES[(first >> 4) & 0x03]!,
    code,
    messageId: (datagram[2]! << 8) | datagram[3]!,
    token: new Uint8Array(datagram.subarray(HEADER_SIZE, optionsStart)),
    options: reader.finish(),
    payload,
  };
}

function extensionSize(nibble: number): number {
  return nibble < 13 ? 0 : nibble === 13 ? 1 : 2;
}

function readExtended(datagram: Uint8Array, at: number, nibble: number, field: string): number {
  if (nibble < 13) return nibble;
  const size = extensionSize(nibble);
  if (at + size > datagram.length) {
    throw new CodecError('TRUNCATED', `extended ${field} runs past the end`, { offset: at, field });
  }
  return nibble === 13 ? datagram[at]! + 13 : ((datagram[at]! << 8) | datagram[at + 1]!) + 269;
}

/** Writes a message; options are sorted by number and uint values take the fewest bytes. */
export function serializeCoapMessage(message: CoapMessage): Uint8Array {
  const typeIndex = COAP_TYPES.indexOf(message.type);
  if (typeIndex === -1) {
    throw new CodecError('MALFORMED', 'type must be CON, NON, ACK or RST', { field: 'type' });
  }
  checkInteger(message.code, 0xff, 'code');
  checkInteger(message.messageId, MAX_MESSAGE_ID, 'messageId');
  const { token, payload } = message;
  if (!(token instanceof Uint8Array) || token.length > MAX_TOKEN_LENGTH) {
    throw new CodecError('OUT_OF_RANGE', `token must be a Uint8Array of 0..${MAX_TOKEN_LENGTH} bytes`, {
      field: 'token',
    });
  }
  if (!(payload instanceof Uint8Array)) {
    throw new CodecError('TYPE_MISMATCH', 'payload must be a Uint8Array', { field: 'payload' });
  }
  const options = encodeOptions(message.options);
  if (message.code === CoapCode.EMPTY && (token.length > 0 || options.length > 0 || payload.length > 0)) {
    throw new CodecError('MALFORMED', 'an Empty message (0.00) carries no token, options or payload', {
      field: 'code',
    });
  }

  let size = HEADER_SIZE + token.length + (payload.length > 0 ? 1 + payload.length : 0);
  let previous = 0;
  for (const option of options) {
    const delta = option.number - previous;
    size += 1 + extensionSize(nibbleFor(delta)) + extensionSize(nibbleFor(option.value.length)) + option.value.length;
    previous = option.number;
  }

  const bytes = new Uint8Array(size);
  bytes[0] = (COAP_VERSION << 6) | (typeIndex << 4) | token.length;
  bytes[1] = message.code;
  bytes[2] = message.messageId >> 8;
  bytes[3] = message.messageId & 0xff;
  bytes.set(token, HEADER_SIZE);
  let offset = HEADER_SIZE + token.length;
  previous = 0;
  for (const option of options) {
    const delta = option.number - previous;
    const deltaNibble = nibbleFor(delta);
    const lengthNibble = nibbleFor(option.value.length);
    bytes[offset++] = (deltaNibble << 4) | lengthNibble;
    offset = writeExtended(bytes, offset, deltaNibble, delta);
    offset = writeExtended(bytes, offset, lengthNibble, option.value.length);
    bytes.set(option.value, offset);
    offset += option.value.length;
    previous = option.number;
  }
  if (payload.length > 0) {
    bytes[offset++] = PAYLOAD_MARKER;
    bytes.set(payload, offset);
  }
  return bytes;
}

function checkInteger(value: number, max: number, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new CodecError('OUT_OF_RANGE', `${field} must be an integer 0..${max}`, { field });
  }
}

function nibbleFor(value: number): number {
  return value < 13 ? value : value < 269 ? 13 : 14;
}

function writeExtended(bytes: Uint8Array, offset: number, nibble: number, value: number): number {
  if (nibble === 13) {
    bytes[offset] = value - 13;
    return offset + 1;
  }
  if (nibble === 14) {
    bytes[offset] = (value - 269) >> 8;
    bytes[offset + 1] = (value - 269) & 0xff;
    return offset + 2;
  }
  return offset;
}
