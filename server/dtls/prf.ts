/**
 * TLS 1.2 key schedule with the SHA-256 PRF (RFC 5246 sections 5, 6.3, 7.4.9, 8.1) and the plain
 * PSK premaster secret (RFC 4279 section 2). DTLS 1.2 uses it unchanged (RFC 6347 section 4.2).
 */
import { createHmac } from 'node:crypto';
import { concatBytes, uintBytes } from './bytes.ts';
import { VERIFY_DATA_LENGTH } from './handshake.ts';

export const MASTER_SECRET_LENGTH = 48;

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed), truncated to `length` bytes. */
export function prf(secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const labelAndSeed = concatBytes(new TextEncoder().encode(label), seed);
  const out = new Uint8Array(length);
  let a = labelAndSeed; // A(0)
  for (let at = 0; at < length; ) {
    a = hmacSha256(secret, a);
    const block = hmacSha256(secret, concatBytes(a, labelAndSeed));
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/** RFC 4279 section 2: uint16 N, N zero bytes (the "other_secret" of plain PSK), uint16 N, psk. */
export function pskPremasterSecret(psk: Uint8Array): Uint8Array {
  const length = uintBytes(psk.length, 2);
  return concatBytes(length, new Uint8Array(psk.length), length, psk);
}

export function masterSecret(premaster: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Uint8Array {
  return prf(premaster, 'master secret', concatBytes(clientRandom, serverRandom), MASTER_SECRET_LENGTH);
}

export interface KeyBlockLayout {
  readonly macKeyLength: number;
  readonly encKeyLength: number;
  readonly fixedIvLength: number;
}

/** TLS_PSK_WITH_AES_128_CCM_8: no MAC key, 16-byte key, 4-byte implicit IV (RFC 6655 section 3). */
export const AES_128_CCM_8_LAYOUT: KeyBlockLayout = { macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 };
/** TLS_PSK_WITH_AES_128_CBC_SHA256: HMAC-SHA256 key, 16-byte key, IV explicit per record. */
export const AES_128_CBC_SHA256_LAYOUT: KeyBlockLayout = { macKeyLength: 32, encKeyLength: 16, fixedIvLength: 0 };

export interface KeyBlock {
  readonly clientWriteMacKey: Uint8Array;
  readonly serverWriteMacKey: Uint8Array;
  readonly clientWriteKey: Uint8Array;
  readonly serverWriteKey: Uint8Array;
  readonly clientWriteIv: Uint8Array;
  readonly serverWriteIv: Uint8Array;
}

/** RFC 5246 section 6.3; note the seed is server_random first, unlike the master secret. */
export function keyBlock(master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, layout: KeyBlockLayout): KeyBlock {
  const { macKeyLength, encKeyLength, fixedIvLength } = layout;
  const block = prf(master, 'key expansion', concatBytes(serverRandom, clientRandom), 2 * (macKeyLength + encKeyLength + fixedIvLength));
  let at = 0;
  const take = (length: number): Uint8Array => block.slice(at, (at += length));
  return {
    clientWriteMacKey: take(macKeyLength),
    serverWriteMacKey: take(macKeyLength),
    clientWriteKey: take(encKeyLength),
    serverWriteKey: take(encKeyLength),
    clientWriteIv: take(fixedIvLength),
    serverWriteIv: take(fixedIvLength),
  };
}

export type FinishedLabel = 'client finished' | 'server finished';

/** verify_data = PRF(master_secret, finished_label, SHA-256(handshake_messages))[0..11]. */
export function verifyData(master: Uint8Array, label: FinishedLabel, handshakeHash: Uint8Array): Uint8Array {
  return prf(master, label, handshakeHash, VERIFY_DATA_LENGTH);
}
