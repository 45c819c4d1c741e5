/**
 * The static keys a card and the device share for SCP03 (Amendment D section 4.1.1): KEY_ENC,
 * KEY_MAC and KEY_DEK of one AES length, identified on the card by a key version number. They are
 * stored like other credentials, as hex; `redactScp03KeyRecord` is what may be shown or logged.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_SCP03_KEY_VERSION, scp03KeyRecordSchema, type Scp03KeyRecord } from '../bootstrap/credentials.ts';
import { hexToBytes } from '../bootstrap/key-bytes.ts';
import { hiddenSecret } from '../bootstrap/redact.ts';
import { AES_BLOCK_SIZE, aesEncryptBlock, isAesKeyLength } from './aes.ts';
import { Scp03Error } from './scp03-error.ts';

export { DEFAULT_SCP03_KEY_VERSION, scp03KeyRecordSchema, type Scp03KeyRecord } from '../bootstrap/credentials.ts';

/** The working form: key bytes. Hold it only as long as a channel needs it; never log it. */
export interface Scp03KeySet {
  readonly keyVersion: number;
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  readonly dek: Uint8Array;
}

export type Scp03KeyLength = 16 | 24 | 32;

export function generateScp03KeySet(keyLength: Scp03KeyLength = 16, keyVersion = DEFAULT_SCP03_KEY_VERSION): Scp03KeySet {
  if (!isAesKeyLength(keyLength)) throw new Scp03Error('KEY', `AES key of ${String(keyLength)} bytes`);
  return {
    keyVersion,
    enc: new Uint8Array(randomBytes(keyLength)),
    mac: new Uint8Array(randomBytes(keyLength)),
    dek: new Uint8Array(randomBytes(keyLength)),
  };
}

export function scp03KeySetFromRecord(record: Scp03KeyRecord): Scp03KeySet {
  const parsed = scp03KeyRecordSchema.parse(record);
  return { keyVersion: parsed.keyVersion, enc: hexToBytes(parsed.enc), mac: hexToBytes(parsed.mac), dek: hexToBytes(parsed.dek) };
}

export function scp03KeySetToRecord(keys: Scp03KeySet): Scp03KeyRecord {
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
  return { keyVersion: keys.keyVersion, enc: hex(keys.enc), mac: hex(keys.mac), dek: hex(keys.dek) };
}

export function redactScp03KeyRecord(record: Scp03KeyRecord): Scp03KeyRecord {
  return { keyVersion: record.keyVersion, enc: hiddenSecret(record.enc), mac: hiddenSecret(record.mac), dek: hiddenSecret(record.dek) };
}

/**
 * Key check value of an AES key (GP Card Specification, PUT KEY key check value for AES): the
 * first 3 bytes of a block of 01 bytes encrypted under the key. It lets an operator compare keys
 * on two systems without showing them.
 */
export function keyCheckValue(key: Uint8Array): Uint8Array {
  return aesEncryptBlock(key, new Uint8Array(AES_BLOCK_SIZE).fill(0x01)).slice(0, 3);
}
