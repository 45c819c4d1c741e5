import { z } from 'zod';
import { jsonViewSchema } from '../content/json-view.ts';

/**
 * A compiled bootstrap: what the backend tells the gateway to do for one client. It carries
 * values (JSON view, absolute paths), not bytes, because the wire format is only known during
 * the session (Bootstrap-Discover, `pct`, a 4.06/4.15 fallback). Serializable as JSON so it can
 * ride the gateway contract.
 */
export const instancePathText = z.string().regex(/^\/\d+\/\d+$/, 'an instance path such as /0/1');

export const planWriteSchema = z.strictObject({
  /** Instance written with one Bootstrap-Write, e.g. `/0/1`. */
  path: instancePathText,
  values: jsonViewSchema,
});
export type PlanWrite = z.infer<typeof planWriteSchema>;

export const bootstrapPlanSchema = z.strictObject({
  v: z.literal(1),
  /** Send Bootstrap-Discover on `/` first. */
  discover: z.boolean(),
  /** Object or instance paths to delete, before any write. Expanded after Discover. */
  deletes: z.array(z.string().regex(/^\/(?:\d+(?:\/\d+)?)?$/)),
  /** Security, Server, ACL, OSCORE instances, in that order. */
  writes: z.array(planWriteSchema),
  /**
   * The client's own Bootstrap-Server account rewritten, when the profile sets its options.
   * `path` is the instance to use when Discover cannot tell (LwM2M 1.0); the session moves it
   * to the instance Discover reports.
   */
  bootstrapServerWrite: planWriteSchema.optional(),
  reads: z.array(z.enum(['/1', '/2'])),
  /** A format the profile forces; otherwise the session picks from `pct`, else TLV. */
  contentFormat: z.number().int().optional(),
});
export type BootstrapPlan = z.infer<typeof bootstrapPlanSchema>;
