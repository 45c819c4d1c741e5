import { z } from 'zod';
import { isAesKeyLength } from '../smartcard/aes.ts';

/**
 * Key material is written as hex in profiles, device entries and imports, so an operator can
 * paste what a provisioning sheet or `openssl rand -hex 16` gives them.
 */
export const hexKey = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be an even number of hex digits')
  .transform((text) => text.toLowerCase());

/** Security Mode names as operators write them; the numbers are /0/x/2's values. */
export const securityModeName = z.enum(['psk', 'rpk', 'x509', 'nosec', 'est']);
export type SecurityModeName = z.infer<typeof securityModeName>;

export const SECURITY_MODE_NUMBER: Readonly<Record<SecurityModeName, number>> = {
  psk: 0,
  rpk: 1,
  x509: 2,
  nosec: 3,
  est: 4,
};

/**
 * What a device proves itself with to one server, in the shape /0/x/3, /0/x/4 and /0/x/5 take.
 * PSK: `identity` (text, sent as its UTF-8 bytes) and `secretKey`. RPK and X.509: `publicKey`
 * (or certificate, DER as hex), `secretKey` (private key, DER as hex) and `serverPublicKey`.
 */
export const serverCredentialsSchema = z.strictObject({
  identity: z.string().min(1).max(128).optional(),
  publicKey: hexKey.optional(),
  secretKey: hexKey.optional(),
  serverPublicKey: hexKey.optional(),
});
export type ServerCredentials = z.infer<typeof serverCredentialsSchema>;

/** OSCORE context (/21) for one server account, values as object 21 defines them. */
export const oscoreContextSchema = z.strictObject({
  masterSecret: hexKey,
  senderId: hexKey,
  recipientId: hexKey,
  aeadAlgorithm: z.number().int().min(-65536).max(65535).default(10),
  hkdfAlgorithm: z.number().int().min(-65536).max(65535).default(-10),
  masterSalt: hexKey.optional(),
  idContext: hexKey.optional(),
});
export type OscoreContext = z.infer<typeof oscoreContextSchema>;

/** Key version numbers 01..7F are for keys of a Security Domain (GP Card Specification 11.1.8). */
export const DEFAULT_SCP03_KEY_VERSION = 0x30;

const aesHexKey = hexKey.refine((hex) => isAesKeyLength(hex.length / 2), 'must be a 16, 24 or 32-byte AES key');

/**
 * The static keys a UICC and the device share for GlobalPlatform SCP03 (Amendment D 4.1.1,
 * LwM2M Core Appendix H): KEY_ENC, KEY_MAC and KEY_DEK of one AES length, identified on the card
 * by a key version number. Stored as hex like every other credential.
 */
export const scp03KeyRecordSchema = z
  .strictObject({
    keyVersion: z.number().int().min(0x01).max(0x7f).default(DEFAULT_SCP03_KEY_VERSION),
    enc: aesHexKey,
    mac: aesHexKey,
    dek: aesHexKey,
  })
  .refine((keys) => keys.enc.length === keys.mac.length && keys.mac.length === keys.dek.length, {
    message: 'KEY_ENC, KEY_MAC and KEY_DEK must have the same length',
    path: ['mac'],
  });
/** The stored form: hex keys. */
export type Scp03KeyRecord = z.infer<typeof scp03KeyRecordSchema>;
