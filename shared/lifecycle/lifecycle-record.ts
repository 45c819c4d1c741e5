import { z } from 'zod';
import { iccid } from '../bootstrap/device.ts';
import { pendingAccountSchema } from './account-replacement.ts';
import { ipAddress } from './attach-event.ts';
import { pendingServerCredentialsSchema } from './server-credential-rotation.ts';

/**
 * What the server remembers about one device between bootstraps (`PK=DEVICE#<ep>`,
 * `SK=LIFECYCLE`): the newest carrier attach, whether and with what it was last bootstrapped,
 * and whether it is waiting for a bootstrap. The decisions in this folder read one and return
 * the next; the store writes it with a condition on `lastAttach`, so of two racing deliveries
 * only one wins.
 */

export const RECENT_EVENT_IDS = 16;
export const SIM_CHANGES_KEPT = 8;

const ourTime = z.iso.datetime();

export const bootstrapNeededReason = z.enum(['never-bootstrapped', 'profile-changed', 'sim-changed', 'operator', 'account-replacement']);
export type BootstrapNeededReason = z.infer<typeof bootstrapNeededReason>;

export const profileFingerprintText = z.string().regex(/^[0-9a-f]{32}$/, '32 lowercase hex digits');

export const lifecycleRecordSchema = z.strictObject({
  /** The newest attach by (event time, event id); only a newer one replaces it. */
  lastAttach: z
    .strictObject({
      eventId: z.string().min(1).max(128),
      /** The carrier's clock, as the event gave it. */
      eventTime: z.iso.datetime({ offset: true }),
      iccid: iccid.optional(),
      address: ipAddress,
      port: z.number().int().min(1).max(65535),
      carrier: z.string().min(1).max(64),
    })
    .optional(),
  /**
   * Ids of the last attaches taken, newest last. Older events are stale whatever their id;
   * these catch a redelivery of one of several events stamped with the same time.
   */
  recentEventIds: z.array(z.string().min(1).max(128)).max(RECENT_EVENT_IDS).default([]),
  /**
   * Set by a successful bootstrap: what it wrote (as a fingerprint) and to which card; `at` is the
   * last success that changed the record (a re-bootstrap writing the same leaves it alone).
   */
  bootstrappedWith: z
    .strictObject({
      profileFingerprint: profileFingerprintText,
      iccid: iccid.optional(),
      at: ourTime,
    })
    .optional(),
  /** Waiting for a bootstrap: the first reason and since when; cleared by a success only. */
  bootstrapNeeded: z.strictObject({ reason: bootstrapNeededReason, since: ourTime }).optional(),
  /**
   * The Bootstrap-Server account replacing a low-entropy one, from the bootstrap that wrote it
   * until the new account's own first session has deleted the original instance (it is the only
   * record of which instance that is). Holds the fresh key: never print it.
   */
  pendingAccount: pendingAccountSchema.optional(),
  /**
   * LwM2M Server credentials minted for the device (profile mintServerCredentials) that no
   * successful session has delivered yet. Holds keys: never print it.
   */
  pendingServerCredentials: pendingServerCredentialsSchema.optional(),
  /** Card changes seen, oldest first, for `SimChanged` and for an operator asking why. */
  simChanges: z
    .array(z.strictObject({ from: iccid.optional(), to: iccid, at: ourTime }))
    .max(SIM_CHANGES_KEPT)
    .default([]),
});
export type LifecycleRecord = z.infer<typeof lifecycleRecordSchema>;
export type LifecycleRecordInput = z.input<typeof lifecycleRecordSchema>;

/** A device the server has heard nothing about yet. */
export function emptyLifecycleRecord(): LifecycleRecord {
  return { recentEventIds: [], simChanges: [] };
}

