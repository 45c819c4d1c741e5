import { allocate } from './instance-ids.ts';
import type { OscoreContext, ServerCredentials } from './credentials.ts';
import type { DeviceEntry } from './device.ts';
import type { Profile, ServerAccount } from './profile.ts';

/**
 * One LwM2M Server account as this device gets it: the profile's account with the device's
 * overrides applied, its credentials and OSCORE context looked up where `credentialSource` and
 * `oscore` say, and the instance ids it will be written to. Every field remembers where an
 * operator wrote it, so the checker can point there.
 */
export interface ResolvedAccount {
  /** Position in `profile.servers`. */
  readonly index: number;
  readonly account: ServerAccount;
  /** Dotted path of one of the account's fields: the device override when it set it, else the profile. */
  readonly field: (key: keyof ServerAccount) => string;
  readonly credentials: ServerCredentials | undefined;
  readonly credentialsField: string;
  readonly oscore: OscoreContext | undefined;
  readonly oscoreField: string;
  readonly securityInstanceId: number;
  readonly serverInstanceId: number;
  /** Set when the account has OSCORE (/21 instance linked from /0/x/17). */
  readonly oscoreInstanceId: number | undefined;
}

/** The Security instance a client keeps its Bootstrap-Server account in, which server accounts must avoid. */
export function bootstrapServerInstanceId(profile: Profile): number {
  return profile.bootstrapServer?.instanceId ?? 0;
}

export function resolveServerAccounts(profile: Profile, device?: DeviceEntry): ResolvedAccount[] {
  const merged = profile.servers.map((base, index) => {
    const override = device?.overrides.servers?.[String(base.shortServerId)];
    // Only keys the override holds a value for replace the profile's.
    const present = Object.entries(override ?? {}).filter(([, value]) => value !== undefined);
    const overridden = new Set(present.map(([key]) => key));
    const account: ServerAccount = { ...base, ...Object.fromEntries(present) };
    const field = (key: keyof ServerAccount): string =>
      overridden.has(key) ? `device.overrides.servers.${base.shortServerId}.${key}` : `servers[${index}].${key}`;
    return { index, account, field };
  });

  const securityIds = allocate(
    merged.map(({ account }) => account.securityInstanceId),
    1,
    new Set([bootstrapServerInstanceId(profile)]),
  );
  const serverIds = allocate(
    merged.map(({ account }) => account.serverInstanceId),
    0,
  );
  let nextOscore = 0;

  return merged.map(({ index, account, field }) => {
    const ssid = String(account.shortServerId);
    const fromDevice = account.credentialSource === 'device';
    const oscoreFromDevice = account.oscore === 'device';
    const oscore = account.oscore === 'device' ? device?.oscore[ssid] : account.oscore;
    return {
      index,
      account,
      field,
      credentials: fromDevice ? device?.serverCredentials[ssid] : account.credentials,
      credentialsField: fromDevice ? `device.serverCredentials.${ssid}` : field('credentials'),
      oscore,
      oscoreField: oscoreFromDevice ? `device.oscore.${ssid}` : field('oscore'),
      securityInstanceId: securityIds[index]!,
      serverInstanceId: serverIds[index]!,
      oscoreInstanceId: account.oscore === undefined ? undefined : nextOscore++,
    };
  });
}
