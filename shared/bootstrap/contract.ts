import { z } from 'zod';
import { bootstrapPlanSchema } from './plan.ts';
import { bootstrapOutcomeKind, endpointName } from './device.ts';
import { bootstrapNeededReason } from '../lifecycle/lifecycle-record.ts';

/**
 * The versioned seam between a gateway (CoAP transport, sessions) and the backend (payload
 * computation, state). Locally the two are wired in-process; on AWS the messages ride IoT Core
 * topics per gateway. Every message is validated with these schemas on receipt.
 */
export const CONTRACT_VERSION = 1;

const id = z.string().min(1).max(64);
const timestamp = z.iso.datetime();

export const peerSchema = z.strictObject({
  address: z.string().min(1).max(64),
  port: z.number().int().min(1).max(65535),
});
export type Peer = z.infer<typeof peerSchema>;

export const bootstrapRequestedSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-requested'),
  requestId: id,
  gatewayId: id,
  endpoint: endpointName,
  peer: peerSchema,
  transport: z.enum(['udp', 'dtls']),
  /** The DTLS PSK identity the session authenticated with, when there is one. */
  pskIdentity: z.string().max(128).optional(),
  /** `pct` from a Bootstrap-Request. */
  preferredContentFormat: z.number().int().optional(),
  kind: z.enum(['bs', 'bspack']),
  /** Accept option of a `GET /bspack`. */
  accept: z.number().int().optional(),
  receivedAt: timestamp,
});
export type BootstrapRequested = z.infer<typeof bootstrapRequestedSchema>;

const securityInstanceId = z.number().int().min(0).max(65534);

/**
 * Where a session wrote the plan's Security (/0) instances: Bootstrap-Discover may have moved
 * them (instance-remap.ts), and only the gateway knows. The backend needs it where it remembers
 * an instance id for later, as the account replacement does the original account's.
 */
export const securityInstancesSchema = z.strictObject({
  /** Each Security instance of `plan.writes`: the planned id (as text, a JSON key) → the id written. */
  writes: z.record(z.string().regex(/^\d{1,5}$/, 'an instance id'), securityInstanceId),
  /** The instance `plan.bootstrapServerWrite` went to: the client's own Bootstrap-Server account. */
  bootstrapServer: securityInstanceId.optional(),
});
export type SecurityInstances = z.infer<typeof securityInstancesSchema>;

export const bootstrapEndedSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-ended'),
  sessionId: id,
  gatewayId: id,
  endpoint: endpointName,
  kind: z.enum(['bs', 'bspack']),
  outcome: bootstrapOutcomeKind,
  clientVersion: z.string().max(8).optional(),
  contentFormat: z.number().int().optional(),
  detail: z.string().max(1024).optional(),
  reads: z.record(z.string(), z.unknown()).optional(),
  /**
   * A success's Security instances as written. Optional within version 1: a gateway before it
   * leaves it out, and the backend then takes the plan's ids, as it did. A backend before it
   * refuses the field (the object is strict): deploy the backend first.
   */
  securityInstances: securityInstancesSchema.optional(),
  startedAt: timestamp,
  endedAt: timestamp,
});
export type BootstrapEnded = z.infer<typeof bootstrapEndedSchema>;

export const uplinkSchema = z.discriminatedUnion('type', [bootstrapRequestedSchema, bootstrapEndedSchema]);
export type Uplink = z.infer<typeof uplinkSchema>;

export const rejectionReason = z.enum([
  'unknown-endpoint',
  'unknown-profile',
  'invalid-configuration',
  'identity-mismatch',
  /** The device bootstraps over DTLS, or its plan carries keys, and the request came over NoSec. */
  'insecure-transport',
  /** The Accept format of a `GET /bspack` cannot carry a whole configuration (answered 4.06). */
  'not-acceptable',
  'unavailable',
]);
export type RejectionReason = z.infer<typeof rejectionReason>;

export const bootstrapPlannedSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-planned'),
  requestId: id,
  sessionId: id,
  endpoint: endpointName,
  plan: bootstrapPlanSchema,
  /**
   * The backend has already recorded this bootstrap's outcome: for a Bootstrap-Pack, serving it
   * is the outcome, so the gateway sends no `bootstrap-ended` unless serving fails.
   */
  outcomeRecorded: z.boolean().optional(),
});
export type BootstrapPlanned = z.infer<typeof bootstrapPlannedSchema>;

export const bootstrapRejectedSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-rejected'),
  requestId: id,
  endpoint: z.string().max(255),
  reason: rejectionReason,
  /** Operator-facing; never contains key material. */
  detail: z.string().max(1024),
});
export type BootstrapRejected = z.infer<typeof bootstrapRejectedSchema>;

export const bootstrapRecordedSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-recorded'),
  sessionId: id,
  endpoint: endpointName,
  /** False when a newer session's outcome was already there: the late one is kept out. */
  stored: z.boolean(),
});
export type BootstrapRecorded = z.infer<typeof bootstrapRecordedSchema>;

export const downlinkSchema = z.discriminatedUnion('type', [bootstrapPlannedSchema, bootstrapRejectedSchema, bootstrapRecordedSchema]);
export type Downlink = z.infer<typeof downlinkSchema>;

/**
 * Server Initiated Bootstrap (LwM2M Core §5.2.2.3): the backend (or the attach handler) tells a
 * gateway, unprompted, to bootstrap the device at `peer`. It answers no uplink, so it is not in
 * `downlinkSchema` (what `handleUplink` returns); a gateway's downlink topic carries both, see
 * `gatewayDownlinkSchema`. The gateway reports the session with `bootstrap-ended` as usual.
 */
export const bootstrapInitiateSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  type: z.literal('bootstrap-initiate'),
  sessionId: id,
  /** The gateway meant to run it, when the sender picked one (a check, not a route). */
  gatewayId: id.optional(),
  endpoint: endpointName,
  peer: peerSchema,
  transport: z.enum(['udp', 'dtls']),
  /**
   * Over DTLS, the PSK identity the session with `peer` must have authenticated with: a session
   * at that address under another identity is someone else, and gets no plan.
   */
  pskIdentity: z.string().max(128).optional(),
  plan: bootstrapPlanSchema,
  reason: bootstrapNeededReason,
});
export type BootstrapInitiate = z.infer<typeof bootstrapInitiateSchema>;

/** Everything that may arrive on a gateway's downlink topic: answers, and initiations. */
export const gatewayDownlinkSchema = z.discriminatedUnion('type', [
  bootstrapPlannedSchema,
  bootstrapRejectedSchema,
  bootstrapRecordedSchema,
  bootstrapInitiateSchema,
]);
export type GatewayDownlink = z.infer<typeof gatewayDownlinkSchema>;
