/**
 * The PSK cipher suites this server can negotiate, and how each turns the key block into record
 * protection (RFC 5246 section 6.3). Both use the SHA-256 PRF, so the key schedule and Finished
 * are shared; only the key block layout and the record cipher differ.
 */
import { cbcSha256Cipher } from './cbc-sha256.ts';
import { ccm8Cipher } from './ccm8.ts';
import { AES_128_CBC_SHA256_LAYOUT, AES_128_CCM_8_LAYOUT, type KeyBlock, type KeyBlockLayout } from './prf.ts';
import type { SessionCiphers } from './record-cipher.ts';

/** RFC 6655; the mandatory suite of RFC 7925 section 4.1 (and of LwM2M PSK mode). */
export const TLS_PSK_WITH_AES_128_CCM_8 = 0xc0a8;
/** RFC 5487. */
export const TLS_PSK_WITH_AES_128_CBC_SHA256 = 0x00ae;

export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly layout: KeyBlockLayout;
  /** The server's read (client_write) and write (server_write) protection for epoch 1. */
  ciphers(block: KeyBlock): SessionCiphers;
}

const suites: readonly CipherSuite[] = [
  {
    id: TLS_PSK_WITH_AES_128_CCM_8,
    name: 'TLS_PSK_WITH_AES_128_CCM_8',
    layout: AES_128_CCM_8_LAYOUT,
    ciphers: (block) => ({
      read: ccm8Cipher({ key: block.clientWriteKey, implicitIv: block.clientWriteIv }),
      write: ccm8Cipher({ key: block.serverWriteKey, implicitIv: block.serverWriteIv }),
    }),
  },
  {
    id: TLS_PSK_WITH_AES_128_CBC_SHA256,
    name: 'TLS_PSK_WITH_AES_128_CBC_SHA256',
    layout: AES_128_CBC_SHA256_LAYOUT,
    ciphers: (block) => ({
      read: cbcSha256Cipher({ macKey: block.clientWriteMacKey, encKey: block.clientWriteKey }),
      write: cbcSha256Cipher({ macKey: block.serverWriteMacKey, encKey: block.serverWriteKey }),
    }),
  },
];

export const SUPPORTED_CIPHER_SUITES: readonly number[] = suites.map((suite) => suite.id);
/** Server preference when none is configured: the RFC 7925 suite first. */
export const DEFAULT_CIPHER_SUITES: readonly number[] = [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256];

export function cipherSuite(id: number): CipherSuite | undefined {
  return suites.find((suite) => suite.id === id);
}

/** The server's most preferred suite that the client offered, if any (RFC 5246 section 7.4.1.3). */
export function chooseCipherSuite(preference: readonly number[], offered: readonly number[]): CipherSuite | undefined {
  for (const id of preference) {
    if (offered.includes(id)) {
      const suite = cipherSuite(id);
      if (suite !== undefined) return suite;
    }
  }
  return undefined;
}
