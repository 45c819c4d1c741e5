import { z } from 'zod';
import { parseContentFormat } from '../content/format.ts';
import { TREE_FORMATS } from '../content/registry.ts';
import { oscoreContextSchema, securityModeName, serverCredentialsSchema } from './credentials.ts';

/** Short Server ID: 1..65534 (0 and 65535 are reserved by LwM2M Core). */
export const shortServerId = z.number().int().min(1).max(65534);
export type ShortServerId = number;

const seconds = z.number().int().min(0).max(0xffffffff);

/** A content format by name (`senml-cbor`) or number (`112`); only formats that carry trees. */
export const treeContentFormat = z.union([z.number().int(), z.string()]).transform((value, ctx) => {
  let format: number;
  try {
    format = typeof value === 'number' ? value : parseContentFormat(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `unknown content format ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  if (!TREE_FORMATS.includes(format)) {
    ctx.addIssue({ code: 'custom', message: `content format ${format} cannot carry object instances` });
    return z.NEVER;
  }
  return format;
});

/**
 * Where an account's credentials come from: the device entry (one key per device, the
 * default and the only safe choice for PSK), or the profile itself (one value for the fleet,
 * which suits NoSec and certificate trust anchors).
 */
export const credentialSource = z.enum(['device', 'profile']);

// Q is LwM2M 1.0's queue mode (UQ, SQ, UQS); 1.1 moved it out but 1.0 clients still take it.
const bindingText = z.string().regex(/^[UMHTSNQ]+$/, 'letters from U, M, H, T, S, N (and Q for LwM2M 1.0)');

/** One LwM2M Server account: a Security instance (/0) and its Server instance (/1). */
export const serverAccountSchema = z.strictObject({
  shortServerId,
  uri: z.string().min(1).max(255),
  securityMode: securityModeName.default('nosec'),
  credentialSource: credentialSource.default('device'),
  /** Used when `credentialSource` is `profile`. */
  credentials: serverCredentialsSchema.optional(),
  /** Instance ids to write; allocated in order when absent. */
  securityInstanceId: z.number().int().min(0).max(65534).optional(),
  serverInstanceId: z.number().int().min(0).max(65534).optional(),
  lifetime: seconds.default(86400),
  binding: bindingText.default('U'),
  defaultMinPeriod: seconds.optional(),
  defaultMaxPeriod: seconds.optional(),
  notificationStoring: z.boolean().default(false),
  disableTimeout: seconds.optional(),
  /** Registration options of Server object 1.1/1.2 (/1/x/13 to /1/x/23). */
  registration: z
    .strictObject({
      priorityOrder: z.number().int().min(0).optional(),
      initialDelay: seconds.optional(),
      failureBlock: z.boolean().optional(),
      bootstrapOnFailure: z.boolean().optional(),
      communicationRetryCount: z.number().int().min(0).optional(),
      communicationRetryTimer: seconds.optional(),
      sequenceDelayTimer: seconds.optional(),
      sequenceRetryCount: z.number().int().min(0).optional(),
      trigger: z.boolean().optional(),
      preferredTransport: z.string().regex(/^[UMHTSN]$/).optional(),
      muteSend: z.boolean().optional(),
    })
    .optional(),
  /** OSCORE for this account (/21), linked from /0/x/17. Values from the device entry when absent. */
  oscore: z.union([z.literal('device'), oscoreContextSchema]).optional(),
});
export type ServerAccount = z.infer<typeof serverAccountSchema>;

/**
 * A device's override of one account: only the fields it names. Spelled without defaults,
 * because `.partial()` keeps them and an override of `lifetime` would reset the security mode.
 */
export const serverAccountOverrideSchema = serverAccountSchema
  .omit({ shortServerId: true, securityMode: true, credentialSource: true, lifetime: true, binding: true, notificationStoring: true })
  .partial()
  .extend({
    securityMode: securityModeName.optional(),
    credentialSource: credentialSource.optional(),
    lifetime: seconds.optional(),
    binding: bindingText.optional(),
    notificationStoring: z.boolean().optional(),
  });
export type ServerAccountOverride = z.infer<typeof serverAccountOverrideSchema>;

/**
 * Options for the client's Bootstrap-Server account. When present, the engine rewrites that
 * account (its own instance, found by Bootstrap-Discover) with the device's bootstrap
 * credentials and these options.
 */
export const bootstrapServerOptionsSchema = z.strictObject({
  uri: z.string().min(1).max(255),
  /** /0/x/11: seconds the client waits before a client-initiated bootstrap. */
  clientHoldOffTime: seconds.optional(),
  /** /0/x/12: seconds after which the client deletes this account; 0 keeps it forever. */
  accountTimeout: seconds.optional(),
  /** Used for 1.0 clients, which cannot be asked where the account is. */
  instanceId: z.number().int().min(0).max(65534).default(0),
});
export type BootstrapServerOptions = z.infer<typeof bootstrapServerOptionsSchema>;

/** ACL rights as /2/x/2 encodes them: one bit each. */
export const aclRight = z.enum(['read', 'write', 'execute', 'delete', 'create']);
export type AclRight = z.infer<typeof aclRight>;

export const aclInstanceSchema = z.strictObject({
  instanceId: z.number().int().min(0).max(65534).optional(),
  objectId: z.number().int().min(1).max(65534),
  objectInstanceId: z.number().int().min(0).max(65535),
  /** Rights per Short Server ID; key `0` is the default for servers not listed. */
  rights: z.record(z.string().regex(/^\d+$/, 'a Short Server ID'), z.array(aclRight)),
  owner: z.number().int().min(0).max(65535),
});
export type AclInstance = z.infer<typeof aclInstanceSchema>;

const lwm2mPathText = z.string().regex(/^\/(?:\d+(?:\/\d+)?)?$/, 'an object or instance path such as /0 or /1/2');

export const profileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash and underscore, at most 64');

/** A fleet template: everything a device of this kind is told at bootstrap. */
export const profileSchema = z.strictObject({
  name: profileName,
  description: z.string().max(1024).optional(),
  servers: z.array(serverAccountSchema).min(1).max(16),
  bootstrapServer: bootstrapServerOptionsSchema.optional(),
  acl: z.array(aclInstanceSchema).max(256).default([]),
  /** Deleted before writing; Bootstrap-Delete never removes the client's Bootstrap-Server account. */
  deletes: z.array(lwm2mPathText).max(32).default(['/0', '/1']),
  /** Bootstrap-Read after writing (LwM2M 1.1+), recorded with the outcome. */
  reads: z.array(z.enum(['/1', '/2'])).max(2).default([]),
  /** Forces one format for every client; otherwise the client's `pct`, else TLV. */
  contentFormat: treeContentFormat.optional(),
  /** Send Bootstrap-Discover first (LwM2M 1.1+); a 1.0 client's refusal is tolerated. */
  discover: z.boolean().default(true),
  /**
   * Hand secret keys (PSK, private keys, OSCORE secrets) to clients that bootstrap over NoSec
   * CoAP. Off by default: without DTLS anyone who knows an endpoint name could fetch its keys.
   * For a lab only.
   */
  allowSecretsOverNoSec: z.boolean().optional(),
  /**
   * Let a device end up without a Bootstrap-Server account (seed 000 warns it can then never be
   * bootstrapped again). Off: a low-entropy account is replaced, never just removed.
   */
  allowNoBootstrapAccount: z.boolean().optional(),
  /**
   * Give every LwM2M server account with PSK credentials from the device (`credentialSource:
   * device`) a fresh key and identity at each bootstrap; the server side learns them from the
   * store and a ServerCredentialsIssued event, never from logs.
   */
  mintServerCredentials: z.boolean().optional(),
});
export type Profile = z.infer<typeof profileSchema>;
export type ProfileInput = z.input<typeof profileSchema>;
