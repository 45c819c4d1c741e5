import { CodecError } from '../shared/errors.ts';

/**
 * Hex as operators paste it from captures: any case, optional `0x`, spaces, colons or dashes
 * between bytes. Errors give the character offset into what was typed.
 */
export function parseHex(text: string): Uint8Array {
  const body = text.trim().replace(/^0x/i, '');
  const digits: number[] = [];
  for (let index = 0; index < body.length; index += 1) {
    const char = body[index]!;
    if (/[\s:-]/.test(char)) continue;
    const value = parseInt(char, 16);
    if (Number.isNaN(value)) {
      throw new CodecError('MALFORMED', `"${char}" is not a hex digit`, { offset: index + (text.length - text.trimStart().length) });
    }
    digits.push(value);
  }
  if (digits.length % 2 !== 0) throw new CodecError('MALFORMED', `odd number of hex digits (${digits.length})`, { field: 'hex' });
  return Uint8Array.from({ length: digits.length / 2 }, (_, byte) => digits[2 * byte]! * 16 + digits[2 * byte + 1]!);
}

export function formatHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
