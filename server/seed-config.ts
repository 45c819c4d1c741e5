import { z } from 'zod';
import { deviceEntrySchema } from '../shared/bootstrap/device.ts';
import { profileSchema } from '../shared/bootstrap/profile.ts';
import { checkBootstrapConfiguration } from '../shared/bootstrap/checker.ts';
import { withKeyFingerprint } from '../shared/bootstrap/device-key-classification.ts';
import type { BootstrapStore } from '../shared/bootstrap/store.ts';
import type { KeyFingerprinter } from '../shared/lifecycle/key-fingerprint.ts';

/** A file of profiles and devices that `serve --config` loads at start. */
export const seedConfigSchema = z.strictObject({
  profiles: z.array(profileSchema).default([]),
  devices: z.array(deviceEntrySchema).default([]),
});
export type SeedConfig = z.infer<typeof seedConfigSchema>;

/** Thrown when a seed file does not validate; lists every problem with its field. */
export class SeedConfigError extends Error {
  override readonly name = 'SeedConfigError';
}

export function parseSeedConfig(input: unknown): SeedConfig {
  const parsed = seedConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`);
    throw new SeedConfigError(`invalid configuration file:\n  ${lines.join('\n  ')}`);
  }
  const seed = parsed.data;
  const profiles = new Map(seed.profiles.map((profile) => [profile.name, profile]));
  const problems: string[] = [];
  seed.devices.forEach((device, index) => {
    const profile = profiles.get(device.profile);
    if (!profile) {
      problems.push(`devices[${index}].profile: profile ${device.profile} is not in the file`);
      return;
    }
    for (const issue of checkBootstrapConfiguration(profile, device)) problems.push(`devices[${index}] ${issue.field}: ${issue.message}`);
  });
  if (problems.length > 0) throw new SeedConfigError(`invalid configuration file:\n  ${problems.join('\n  ')}`);
  return seed;
}

/**
 * Validated first, written after: a bad file writes nothing. Each device's bootstrap key is
 * fingerprinted by the server's fingerprinter (a fingerprint in the file replaced), so devices of
 * the file sharing a key, or sharing one with devices stored before, count as its holders.
 */
export async function applySeedConfig(store: BootstrapStore, seed: SeedConfig, fingerprinter: KeyFingerprinter): Promise<void> {
  const devices = await Promise.all(seed.devices.map((device) => withKeyFingerprint(device, fingerprinter)));
  for (const profile of seed.profiles) await store.putProfile(profile);
  const result = await store.putDevices(devices);
  if (result.rejected.length > 0) {
    throw new SeedConfigError(`store refused ${result.rejected.length} devices: ${result.rejected.map((row) => `${row.endpoint}: ${row.reason}`).join('; ')}`);
  }
}
