import type { InstanceNode, ResourceNode } from '../content/tree.ts';
import { OSCORE_OBJECT } from '../lwm2m/objects/oscore.ts';
import { SecurityResource } from '../lwm2m/objects/security.ts';
import { booleanValue, integerValue, objlnkValue, opaqueValue, stringValue } from '../lwm2m/value.ts';
import { SECURITY_MODE_NUMBER, type SecurityModeName, type ServerCredentials } from './credentials.ts';
import type { BootstrapCredentials } from './device.ts';
import { hexToBytes, utf8Bytes } from './key-bytes.ts';
import type { BootstrapServerOptions } from './profile.ts';
import { optionalSingle, single } from './resource-node.ts';
import type { ResolvedAccount } from './server-accounts.ts';

const EMPTY = new Uint8Array(0);

/** Security instance /0/x of one LwM2M Server account. */
export function serverSecurityInstance(resolved: ResolvedAccount): InstanceNode {
  const { account } = resolved;
  return {
    id: resolved.securityInstanceId,
    resources: [
      single(SecurityResource.SERVER_URI, stringValue(account.uri)),
      single(SecurityResource.BOOTSTRAP_SERVER, booleanValue(false)),
      single(SecurityResource.SECURITY_MODE, integerValue(SECURITY_MODE_NUMBER[account.securityMode])),
      ...keyResources(account.securityMode, resolved.credentials),
      single(SecurityResource.SHORT_SERVER_ID, integerValue(account.shortServerId)),
      ...optionalSingle(SecurityResource.OSCORE_SECURITY_MODE, resolved.oscoreInstanceId, (id) => objlnkValue(OSCORE_OBJECT.id, id)),
    ],
  };
}

/** The client's own Bootstrap-Server account, rewritten with the device's bootstrap credentials. */
export function bootstrapSecurityInstance(options: BootstrapServerOptions, credentials: BootstrapCredentials | undefined): InstanceNode {
  const mode = credentials?.securityMode ?? 'nosec';
  return {
    id: options.instanceId,
    resources: [
      single(SecurityResource.SERVER_URI, stringValue(options.uri)),
      single(SecurityResource.BOOTSTRAP_SERVER, booleanValue(true)),
      single(SecurityResource.SECURITY_MODE, integerValue(SECURITY_MODE_NUMBER[mode])),
      ...keyResources(mode, credentials),
      ...optionalSingle(SecurityResource.CLIENT_HOLD_OFF_TIME, options.clientHoldOffTime, integerValue),
      ...optionalSingle(SecurityResource.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT, options.accountTimeout, integerValue),
    ],
  };
}

/**
 * /0/x/3, 4 and 5 are always written, empty when the mode has no use for them: they are
 * mandatory in the object definition, and clients (Wakaama, Leshan's) expect them present even
 * for NoSec.
 */
function keyResources(mode: SecurityModeName, credentials: ServerCredentials | undefined): ResourceNode[] {
  const keys = mode === 'nosec' ? undefined : credentials;
  const bytes = (hex: string | undefined): Uint8Array => (hex === undefined ? EMPTY : hexToBytes(hex));
  const identity = keys?.identity === undefined ? EMPTY : utf8Bytes(keys.identity);
  return [
    single(SecurityResource.PUBLIC_KEY_OR_IDENTITY, opaqueValue(mode === 'psk' ? identity : bytes(keys?.publicKey))),
    single(SecurityResource.SERVER_PUBLIC_KEY, opaqueValue(bytes(keys?.serverPublicKey))),
    single(SecurityResource.SECRET_KEY, opaqueValue(bytes(keys?.secretKey))),
  ];
}
