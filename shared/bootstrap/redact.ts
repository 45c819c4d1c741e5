import type { OscoreContext, ServerCredentials } from './credentials.ts';
import type { DeviceEntry } from './device.ts';
import type { Profile, ServerAccount } from './profile.ts';

/**
 * What operators see instead of a secret: its length, which is enough to tell a 16-byte PSK
 * from a truncated paste, and nothing of its value. Public keys, identities and OSCORE ids are
 * not secret and stay visible; secret keys, OSCORE master secrets and master salts are hidden.
 */
export function hiddenSecret(hex: string): string {
  return `(hidden: ${Math.floor(hex.length / 2)} bytes)`;
}

function redactCredentials<T extends ServerCredentials>(credentials: T): T {
  return credentials.secretKey === undefined ? credentials : { ...credentials, secretKey: hiddenSecret(credentials.secretKey) };
}

function redactOscore(context: OscoreContext): OscoreContext {
  return {
    ...context,
    masterSecret: hiddenSecret(context.masterSecret),
    ...(context.masterSalt !== undefined && { masterSalt: hiddenSecret(context.masterSalt) }),
  };
}

function redactAccount<T extends Partial<ServerAccount>>(account: T): T {
  return {
    ...account,
    ...(account.credentials !== undefined && { credentials: redactCredentials(account.credentials) }),
    ...(account.oscore !== undefined && account.oscore !== 'device' && { oscore: redactOscore(account.oscore) }),
  };
}

function mapValues<T>(record: Readonly<Record<string, T>>, map: (value: T) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

/** The device entry with every secret replaced by `(hidden: N bytes)`; the same shape otherwise. */
export function redactDevice(device: DeviceEntry): DeviceEntry {
  const servers = device.overrides.servers;
  return {
    ...device,
    ...(device.bootstrapCredentials !== undefined && { bootstrapCredentials: redactCredentials(device.bootstrapCredentials) }),
    ...(device.retiringBootstrapCredentials !== undefined && { retiringBootstrapCredentials: device.retiringBootstrapCredentials.map(redactCredentials) }),
    serverCredentials: mapValues(device.serverCredentials, redactCredentials),
    oscore: mapValues(device.oscore, redactOscore),
    ...(device.smartcard !== undefined && {
      smartcard: {
        scp03: {
          ...device.smartcard.scp03,
          enc: hiddenSecret(device.smartcard.scp03.enc),
          mac: hiddenSecret(device.smartcard.scp03.mac),
          dek: hiddenSecret(device.smartcard.scp03.dek),
        },
      },
    }),
    overrides: { ...device.overrides, ...(servers !== undefined && { servers: mapValues(servers, redactAccount) }) },
  };
}

/** The profile with the secrets of fleet-wide credentials and OSCORE contexts hidden. */
export function redactProfile(profile: Profile): Profile {
  return { ...profile, servers: profile.servers.map(redactAccount) };
}
