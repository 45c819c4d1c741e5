import { z } from 'zod';
import { serverAccountOverrideSchema, profileName, treeContentFormat } from './profile.ts';
import { keyOrigin } from '../lifecycle/key-entropy.ts';
import { oscoreContextSchema, scp03KeyRecordSchema, securityModeName, serverCredentialsSchema } from './credentials.ts';

/** Endpoint Client Name as clients send it in `ep=`: printable, no spaces, at most 255 bytes. */
export const endpointName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const imsi = z.string().regex(/^\d{6,15}$/, '6 to 15 digits');
export const iccid = z.string().regex(/^\d{18,22}F?$/, '18 to 22 digits');
export const imei = z.string().regex(/^\d{14,16}$/, '14 to 16 digits');

export const deviceIdentitiesSchema = z.strictObject({
  imsi: imsi.optional(),
  iccid: iccid.optional(),
  imei: imei.optional(),
});
export type DeviceIdentities = z.infer<typeof deviceIdentitiesSchema>;

const keyFingerprintText = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');

/** What the device holds for its Bootstrap-Server account (used by DTLS and to rewrite it). */
export const bootstrapCredentialsSchema = serverCredentialsSchema.extend({
  securityMode: securityModeName.default('nosec'),
  /** Where the key came from, as the importer declares it (seed 002: PIN, password, serial... are low entropy). */
  keyOrigin: keyOrigin.optional(),
  /**
   * The PSK's fingerprint (KeyFingerprinter: HMAC-SHA256 under the installation's pepper or KMS
   * HMAC key), which the store indexes to count the devices sharing a key (seed 002). Not key
   * material and not secret on its own: exports and API answers may show it, since nobody
   * without the pepper or the KMS key can test a guessed key against it. Set by the device
   * writers (import, admin API) from `secretKey`; one sent in is replaced or dropped.
   */
  keyFingerprint: keyFingerprintText.optional(),
});

/**
 * A Bootstrap-Server credential on its way out: replaced by a fresh one, it still authenticates
 * until its purge, because the device holds it until the Bootstrap-Server Account Timeout.
 */
export const retiringBootstrapCredentialsSchema = bootstrapCredentialsSchema.extend({
  retiredAt: z.iso.datetime(),
  reason: z.enum(['account-timeout', 'replaced', 'sim-changed']),
});
export type RetiringBootstrapCredentials = z.infer<typeof retiringBootstrapCredentialsSchema>;

/** What is left of a purged credential: who it was and when it stopped authenticating, never the key. */
export const revokedBootstrapIdentitySchema = z.strictObject({
  identity: z.string().min(1).max(128),
  revokedAt: z.iso.datetime(),
  reason: z.enum(['account-timeout', 'replaced', 'sim-changed']),
});
export type BootstrapCredentials = z.infer<typeof bootstrapCredentialsSchema>;

export const bootstrapOutcomeKind = z.enum([
  'success',
  'finish-failed',
  'timeout',
  'client-error',
  'cancelled',
  'rejected',
]);
export type BootstrapOutcomeKind = z.infer<typeof bootstrapOutcomeKind>;

/** The last bootstrap as the backend recorded it. */
export const deviceStatusSchema = z.strictObject({
  sessionId: z.string().min(1).max(64),
  outcome: bootstrapOutcomeKind,
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  kind: z.enum(['bs', 'bspack']),
  clientVersion: z.string().max(8).optional(),
  contentFormat: z.number().int().optional(),
  /** Human-readable reason for anything but success; the client's diagnostic payload for finish-failed. */
  detail: z.string().max(1024).optional(),
  /** Bootstrap-Read results as the JSON view, when the profile asked for them. */
  reads: z.record(z.string(), z.unknown()).optional(),
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/** Overrides a device may carry; each replaces the profile's value for that server or option. */
export const deviceOverridesSchema = z.strictObject({
  servers: z.record(z.string().regex(/^\d+$/, 'a Short Server ID'), serverAccountOverrideSchema).optional(),
  contentFormat: treeContentFormat.optional(),
});

export const deviceEntrySchema = z.strictObject({
  endpoint: endpointName,
  profile: profileName,
  identities: deviceIdentitiesSchema.default({}),
  bootstrapCredentials: bootstrapCredentialsSchema.optional(),
  /** Credentials being replaced; they authenticate until their purge (issue 5, entropy policy). */
  retiringBootstrapCredentials: z.array(retiringBootstrapCredentialsSchema).max(4).optional(),
  /** The last purged Bootstrap-Server identities, newest last. */
  revokedBootstrapIdentities: z.array(revokedBootstrapIdentitySchema).max(16).optional(),
  /**
   * The fingerprint of the Bootstrap-Server key a replacement took away (keyFingerprint before
   * it). The device has held that key, so it still counts as one of its holders: without this,
   * the last devices of a fleet sharing one secret would find themselves its only holder once
   * the others were replaced, and keep a key known to every device of the fleet.
   */
  replacedKeyFingerprint: keyFingerprintText.optional(),
  /** Credentials per Short Server ID, for accounts whose `credentialSource` is `device`. */
  serverCredentials: z.record(z.string().regex(/^\d+$/, 'a Short Server ID'), serverCredentialsSchema).default({}),
  oscore: z.record(z.string().regex(/^\d+$/, 'a Short Server ID'), oscoreContextSchema).default({}),
  /** The UICC holding this device's bootstrap file: the SCP03 keys it shares with the device (LwM2M Core Appendix H). */
  smartcard: z
    .strictObject({
      scp03: scp03KeyRecordSchema,
      /** Set when the card was found replaced: what it provisioned no longer counts (seeds 000, 001). */
      disabled: z.strictObject({ at: z.iso.datetime(), reason: z.literal('sim-changed'), iccid: iccid.optional() }).optional(),
    })
    .optional(),
  overrides: deviceOverridesSchema.default({}),
  status: deviceStatusSchema.optional(),
});
export type DeviceEntry = z.infer<typeof deviceEntrySchema>;
export type DeviceEntryInput = z.input<typeof deviceEntrySchema>;
