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
