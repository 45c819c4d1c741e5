import { z } from 'zod';
import type { ConfigurationIssue } from '../bootstrap/configuration-error.ts';
import { fieldPath, schemaIssues } from '../bootstrap/device-import.ts';
import { iccid, imei, imsi } from '../bootstrap/device.ts';

/**
 * A carrier's notice that a device attached to its network: the trigger for a Server Initiated
 * Bootstrap (LwM2M Core 5.2.2.3 leaves "how the server learns the device is ready" to the
 * implementation and names this very scenario). The device is found by any of its identities;
 * `address` and `port` are where the bootstrap is pushed.
 */

/** E.164: a country code that does not start with 0, at most 15 digits in all. */
export const msisdn = z.string().regex(/^\+?[1-9]\d{1,14}$/, 'an E.164 number: up to 15 digits, optionally after +');

/** An IP literal as the carrier reports it; zone ids (`%eth0`) mean nothing off the host. */
export const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: 'an IPv4 or IPv6 address' });

export const attachEventSchema = z
  .strictObject({
    eventId: z.string().min(1).max(128),
    /** The carrier's clock; offsets are allowed, so compare with compareEventTimes, not as text. */
    eventTime: z.iso.datetime({ offset: true }),
    carrier: z.string().min(1).max(64),
    imsi: imsi.optional(),
    iccid: iccid.optional(),
    imei: imei.optional(),
    msisdn: msisdn.optional(),
    address: ipAddress,
    port: z.number().int().min(1).max(65535),
    apn: z.string().min(1).max(100).optional(),
  })
  .refine((event) => event.imsi !== undefined || event.iccid !== undefined || event.imei !== undefined, {
    message: 'at least one of imsi, iccid or imei is needed to find the device',
    // Also when other fields are wrong, so one report lists every problem of the event.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
  });
export type AttachEvent = z.infer<typeof attachEventSchema>;

export type AttachEventParse =
  | { readonly ok: true; readonly event: AttachEvent }
  | { readonly ok: false; readonly issues: readonly ConfigurationIssue[] };

/**
 * An attach event from a queue, a CLI argument or an HTTP body. Never throws: a batch handler
 * reports the bad message (field and reason, no values) and goes on with the next one.
 */
export function parseAttachEvent(input: unknown): AttachEventParse {
  const parsed = attachEventSchema.safeParse(input);
  if (parsed.success) return { ok: true, event: parsed.data };
  return { ok: false, issues: schemaIssues(parsed.error.issues, (path) => (path.length === 0 ? '(event)' : fieldPath(path))) };
}

/**
 * Orders two event times by the instant they name, to the last fractional digit given:
 * `Date.parse` alone would make 12:00:00.0001 and 12:00:00.0002 the same instant.
 * Both must be valid `eventTime`s. Returns a negative number, 0 or a positive number.
 */
export function compareEventTimes(a: string, b: string): number {
  const left = splitInstant(a);
  const right = splitInstant(b);
  if (left.wholeMs !== right.wholeMs) return left.wholeMs < right.wholeMs ? -1 : 1;
  const width = Math.max(left.fraction.length, right.fraction.length);
  const leftFraction = left.fraction.padEnd(width, '0');
  const rightFraction = right.fraction.padEnd(width, '0');
  return leftFraction < rightFraction ? -1 : leftFraction > rightFraction ? 1 : 0;
}

function splitInstant(text: string): { wholeMs: number; fraction: string } {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(text);
  if (match === null) throw new RangeError('not an ISO date-time');
  const wholeMs = Date.parse(`${match[1]!}${match[3]!}`);
  if (!Number.isFinite(wholeMs)) throw new RangeError('not an ISO date-time');
  return { wholeMs, fraction: match[2] ?? '' };
}
