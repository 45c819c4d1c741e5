/**
 * The AES operations SCP03 needs, on node:crypto: one block (the CMAC and KDF core, the
 * encryption-counter ICV) and CBC without padding (C-DECRYPTION, R-ENCRYPTION pad themselves
 * per ISO/IEC 7816-4). The key length picks AES-128, -192 or -256.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Scp03Error } from './scp03-error.ts';

export const AES_BLOCK_SIZE = 16;

export function isAesKeyLength(length: number): boolean {
  return length === 16 || length === 24 || length === 32;
}

function algorithm(key: Uint8Array, mode: 'ecb' | 'cbc'): string {
  if (!isAesKeyLength(key.length)) throw new Scp03Error('KEY', `AES key of ${key.length} bytes (16, 24 or 32 expected)`);
  return `aes-${key.length * 8}-${mode}`;
}

function checkBlocks(data: Uint8Array): void {
  if (data.length % AES_BLOCK_SIZE !== 0) {
    throw new Scp03Error('MALFORMED_APDU', `AES input of ${data.length} bytes is not whole blocks`);
  }
}

export function aesEncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  if (block.length !== AES_BLOCK_SIZE) throw new Scp03Error('MALFORMED_APDU', `AES block of ${block.length} bytes`);
  const cipher = createCipheriv(algorithm(key, 'ecb'), key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(block), cipher.final()]));
}

export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  checkBlocks(data);
  const cipher = createCipheriv(algorithm(key, 'cbc'), key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

export function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  checkBlocks(data);
  const decipher = createDecipheriv(algorithm(key, 'cbc'), key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([decipher.update(data), decipher.final()]));
}
