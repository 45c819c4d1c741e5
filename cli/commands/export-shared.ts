import { ConfigurationError } from '../../shared/bootstrap/configuration-error.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { STORE_OPTIONS } from '../admin-io.ts';
import { InputError } from '../usage.ts';

// What `export factory` and `export smartcard` share: their common options, the stored devices
// an export takes, and how it refuses them (every problem found first, a few named on the one
// error line).

/** Where the files go, and the store or admin API the devices come from. */
export const EXPORT_OPTIONS = {
  ...STORE_OPTIONS,
  out: { type: 'string', short: 'o' },
  'include-keys': { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
} as const;

/** Problems named on the one error line; the rest are counted. */
export const NAMED_PROBLEMS = 3;

export interface ProfiledDevice {
  readonly device: DeviceEntry;
  readonly profile: Profile;
}

/** Stored devices and their profiles; every unknown device or profile is found before any is refused. */
export async function storedDevices(store: BootstrapStore, endpoints: readonly string[]): Promise<ProfiledDevice[]> {
  const profiles = new Map<string, Profile | undefined>();
  const found: ProfiledDevice[] = [];
  const problems: string[] = [];
  for (const endpoint of endpoints) {
    const device = await store.getDevice(endpoint);
    if (device === undefined) {
      problems.push(`no device "${endpoint}"`);
      continue;
    }
    if (!profiles.has(device.profile)) profiles.set(device.profile, await store.getProfile(device.profile));
    const profile = profiles.get(device.profile);
    if (profile === undefined) problems.push(`device ${endpoint}: no profile "${device.profile}"`);
    else found.push({ device, profile });
  }
  if (problems.length > 0) throw refused(problems);
  return found;
}

export function wouldNotBootstrap(endpoint: string, error: unknown): string {
  if (!(error instanceof ConfigurationError)) throw error;
  const issues = error.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  return `device ${endpoint} would not bootstrap (${error.issues.length} ${error.issues.length === 1 ? 'problem' : 'problems'}): ${issues}`;
}

export function refused(problems: readonly string[]): InputError {
  const more = problems.length > NAMED_PROBLEMS ? `; and ${problems.length - NAMED_PROBLEMS} more` : '';
  return new InputError(`${problems.slice(0, NAMED_PROBLEMS).join('; ')}${more}; nothing written`);
}
