/**
 * Command and response APDUs (ISO/IEC 7816-3 and -4) in the short form SCP03 needs: Lc and Le of
 * one byte each, data up to 255 bytes, Le 256 written as 00. Le is absent or present, which keeps
 * case 1/3 commands apart from case 2/4 ones on the wire.
 */
import { Scp03Error } from './scp03-error.ts';

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  /** Expected response length 1..256; undefined when the command has no Le field. */
  readonly le?: number | undefined;
}

export interface ResponseApdu {
  readonly data: Uint8Array;
  /** SW1 SW2 as one number, e.g. 0x9000. */
  readonly sw: number;
}

export const MAX_SHORT_DATA = 255;
export const MAX_SHORT_LE = 256;

export const SW = {
  OK: 0x9000,
  AUTHENTICATION_FAILED: 0x6300,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  INCORRECT_P1_P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

/** The CLA bit saying the command carries secure messaging (GP Card Specification 11.1.4). */
export const CLA_SECURE_MESSAGING = 0x04;
export const CLA_GLOBALPLATFORM = 0x80;

function checkByte(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new Scp03Error('MALFORMED_APDU', `${field} is not a byte`);
}

export function encodeCommandApdu(command: CommandApdu): Uint8Array {
  checkByte(command.cla, 'CLA');
  checkByte(command.ins, 'INS');
  checkByte(command.p1, 'P1');
  checkByte(command.p2, 'P2');
  const { data, le } = command;
  if (data.length > MAX_SHORT_DATA) throw new Scp03Error('MALFORMED_APDU', `command data of ${data.length} bytes needs extended length`);
  if (le !== undefined && (!Number.isInteger(le) || le < 1 || le > MAX_SHORT_LE)) {
    throw new Scp03Error('MALFORMED_APDU', `Le ${String(le)} is outside 1..256`);
  }
  const out = new Uint8Array(4 + (data.length > 0 ? 1 + data.length : 0) + (le === undefined ? 0 : 1));
  out.set([command.cla, command.ins, command.p1, command.p2]);
  let at = 4;
  if (data.length > 0) {
    out[at] = data.length;
    out.set(data, at + 1);
    at += 1 + data.length;
  }
  if (le !== undefined) out[at] = le & 0xff;
  return out;
}

/** The four short cases by length alone; an Lc of 00 or a length that fits no case is malformed. */
export function decodeCommandApdu(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new Scp03Error('MALFORMED_APDU', `command APDU of ${bytes.length} bytes`);
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  const body = bytes.subarray(4);
  if (body.length === 0) return { cla, ins, p1, p2, data: new Uint8Array(0) };
  if (body.length === 1) return { cla, ins, p1, p2, data: new Uint8Array(0), le: body[0]! === 0 ? MAX_SHORT_LE : body[0]! };
  const lc = body[0]!;
  if (lc === 0) throw new Scp03Error('MALFORMED_APDU', 'Lc of 0 (extended length is not supported)');
  const data = body.slice(1, 1 + lc);
  if (body.length === 1 + lc) return { cla, ins, p1, p2, data };
  if (body.length === 2 + lc) {
    const le = body[1 + lc]!;
    return { cla, ins, p1, p2, data, le: le === 0 ? MAX_SHORT_LE : le };
  }
  throw new Scp03Error('MALFORMED_APDU', `command body of ${body.length} bytes does not match Lc ${lc}`);
}

export function encodeResponseApdu(response: ResponseApdu): Uint8Array {
  if (!Number.isInteger(response.sw) || response.sw < 0 || response.sw > 0xffff) {
    throw new Scp03Error('MALFORMED_APDU', 'status word is not two bytes');
  }
  const out = new Uint8Array(response.data.length + 2);
  out.set(response.data);
  out[response.data.length] = response.sw >> 8;
  out[response.data.length + 1] = response.sw & 0xff;
  return out;
}

export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new Scp03Error('MALFORMED_APDU', `response APDU of ${bytes.length} bytes`);
  const end = bytes.length - 2;
  return { data: bytes.slice(0, end), sw: (bytes[end]! << 8) | bytes[end + 1]! };
}

export function statusWordHex(sw: number): string {
  return sw.toString(16).padStart(4, '0').toUpperCase();
}
