import { z } from 'zod';
import { endpointName, iccid } from '../bootstrap/device.ts';
import { bootstrapNeededReason } from './lifecycle-record.ts';
import { purgeReason } from './purge.ts';

/**
 * What the credential lifecycle tells other systems (issue 5): an account purged, a card
 * swapped, a device marked for bootstrap, LwM2M server credentials minted. The `type` is the
 * EventBridge detail-type. These go on a bus other accounts may subscribe to and into logs, so
 * every event is a strict object of identifiers: a member nobody declared, a `secretKey` above
 * all, is refused rather than carried along.
 */

export const LIFECYCLE_EVENT_TYPES = ['AccountPurged', 'SimChanged', 'BootstrapMarked', 'ServerCredentialsIssued'] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

const envelope = {
  endpoint: endpointName,
  /** When the server did what the event says (not when it was delivered). */
  time: z.iso.datetime(),
};

/** A Bootstrap-Server account's credential stopped authenticating server side. */
export const accountPurgedEventSchema = z.strictObject({
  type: z.literal('AccountPurged'),
  ...envelope,
  securityInstanceId: z.number().int().min(0).max(65534),
  /** Absent for a NoSec account, which had no credential to revoke. */
  pskIdentity: z.string().min(1).max(128).optional(),
  reason: purgeReason,
  /** The bootstrap session that wrote the account. */
  sessionId: z.string().min(1).max(64),
});

/** The device attached with another card; what the old one provisioned no longer counts. */
export const simChangedEventSchema = z.strictObject({
  type: z.literal('SimChanged'),
  ...envelope,
  /** Absent when the device had no card on record. */
  from: iccid.optional(),
  to: iccid,
  /** Whether this change disabled the device's smartcard (its SCP03 keys and the accounts it provisioned). */
  disabledSmartcard: z.boolean(),
});

/** The device waits for a bootstrap: pushed at its next attach, or served at its next Bootstrap-Request. */
export const bootstrapMarkedEventSchema = z.strictObject({
  type: z.literal('BootstrapMarked'),
  ...envelope,
  reason: bootstrapNeededReason,
});

/**
 * A bootstrap gave the device fresh credentials for one LwM2M server, which must learn them.
 * The key is never here in the clear: when the event carries it at all, it is the ciphertext
 * the issuer made under the stack's KMS key (at most 6 KiB, as base64), never hex.
 */
export const serverCredentialsIssuedEventSchema = z.strictObject({
  type: z.literal('ServerCredentialsIssued'),
  ...envelope,
  /** /1/x/0; 0 and 65535 are reserved (Core E.2). */
  shortServerId: z.number().int().min(1).max(65534),
  identity: z.string().min(1).max(128),
  secretKeyCiphertext: z
    .base64()
    .min(1)
    .max(8192)
    // Hex is valid base64, so a key pasted here in the clear would pass as a ciphertext. The
    // base64 of a real ciphertext is all hex digits with odds of (22/64)^length: refused.
    .refine((text) => !/^[0-9a-fA-F]+$/.test(text), 'hex digits, as a key in the clear is written, not a ciphertext')
    .optional(),
});

export const lifecycleEventSchema = z.discriminatedUnion('type', [
  accountPurgedEventSchema,
  simChangedEventSchema,
  bootstrapMarkedEventSchema,
  serverCredentialsIssuedEventSchema,
]);

export type AccountPurgedEvent = z.infer<typeof accountPurgedEventSchema>;
export type SimChangedEvent = z.infer<typeof simChangedEventSchema>;
export type BootstrapMarkedEvent = z.infer<typeof bootstrapMarkedEventSchema>;
export type ServerCredentialsIssuedEvent = z.infer<typeof serverCredentialsIssuedEventSchema>;
export type LifecycleEvent = z.infer<typeof lifecycleEventSchema>;

/** Where lifecycle events go: EventBridge on AWS, the log locally. */
export interface LifecycleEventSink {
  emit(event: LifecycleEvent): Promise<void>;
}

/** A malformed event. It names the members at fault and what is wrong with them, never their values. */
export class LifecycleEventError extends Error {
  readonly problems: readonly string[];
  constructor(type: string, problems: readonly string[]) {
    super(`refusing a malformed ${type} lifecycle event: ${problems.join('; ')}`);
    this.name = 'LifecycleEventError';
    this.problems = problems;
  }
}

/**
 * Validates an event before it leaves. Zod's own messages could quote an input in places, and
 * a refused event may be exactly the one carrying a key, so only paths, codes and the names of
 * unexpected members make it into the error.
 */
export function parseLifecycleEvent(value: unknown): LifecycleEvent {
  const result = lifecycleEventSchema.safeParse(value);
  if (result.success) return result.data;
  const type = typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string' && isEventType(value.type) ? value.type : 'unknown';
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(event)';
    return issue.code === 'unrecognized_keys' ? `${path}: unexpected member(s) ${issue.keys.join(', ')}` : `${path}: ${issue.code}`;
  });
  throw new LifecycleEventError(type, problems);
}

function isEventType(type: string): type is LifecycleEventType {
  return (LIFECYCLE_EVENT_TYPES as readonly string[]).includes(type);
}
