import { z } from 'zod';

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
