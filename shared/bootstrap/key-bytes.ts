/** Key material arrives as hex (credentials.ts `hexKey`); the Security and OSCORE objects take bytes. */
export function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** Byte length of a hex key without decoding it, so size checks never hold the key as bytes. */
export function hexByteLength(hex: string): number {
  return Math.floor(hex.length / 2);
}

export function utf8Bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Bytes `hex` holds from `byteOffset` on, at most `count`; reads only that much of the text. */
function hexBytesAt(hex: string, byteOffset: number, count: number): number[] {
  const bytes: number[] = [];
  for (let index = byteOffset; index < byteOffset + count && index * 2 + 2 <= hex.length; index += 1) {
    bytes.push(parseInt(hex.slice(index * 2, index * 2 + 2), 16));
  }
  return bytes;
}

/** The outer element of a DER encoding: its tag, and the bytes its header and content take. */
export interface DerOuterElement {
  readonly tag: number;
  readonly headerBytes: number;
  readonly contentBytes: number;
}

/**
 * Reads the tag and length of a hex DER encoding's outer element from its first bytes, without
 * decoding the rest; undefined when the header is cut short or uses a length form DER forbids
 * (indefinite, or more than 4 length bytes).
 */
export function derOuterElement(hex: string): DerOuterElement | undefined {
  const [tag, first] = hexBytesAt(hex, 0, 2);
  if (tag === undefined || first === undefined) return undefined;
  if (first < 0x80) return { tag, headerBytes: 2, contentBytes: first };
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 4) return undefined;
  const length = hexBytesAt(hex, 2, lengthBytes);
  if (length.length < lengthBytes) return undefined;
  return { tag, headerBytes: 2 + lengthBytes, contentBytes: length.reduce((value, byte) => value * 256 + byte, 0) };
}
