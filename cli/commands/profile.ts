import { parseArgs } from 'node:util';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { schemaIssues } from '../../shared/bootstrap/device-import.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import { redactProfile } from '../../shared/bootstrap/redact.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { invalidDocument, onePositional, printJson, readJsonDocument, SHOW_SECRETS_OPTION, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError, UsageError } from '../usage.ts';

/** `lwm2m-bs profile put|get|list|delete`: the fleet templates in the data directory's store. */
export async function profileCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore): Promise<void> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { ...STORE_OPTIONS, ...SHOW_SECRETS_OPTION }, allowPositionals: true, strict: true });
  const show = (profile: Profile): Profile => (values['show-secrets'] ? profile : redactProfile(profile));
  switch (action) {
    case 'put': {
      const profile = validProfile(await readJsonDocument(onePositional('profile put', positionals, 'file (or - for stdin)'), io));
      await withStore(open, values['data-dir'], (store) => store.putProfile(profile));
      if (values.json) printJson(io, { stored: 'profile', name: profile.name });
      else io.stdout(`profile ${profile.name} stored (${describeServers(profile)})\n`);
      return;
    }
    case 'get': {
      const name = onePositional('profile get', positionals, 'profile name');
      const profile = await withStore(open, values['data-dir'], (store) => store.getProfile(name));
      if (profile === undefined) throw new InputError(`no profile "${name}"`);
      printJson(io, show(profile));
      return;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError('profile list takes no arguments');
      const profiles = await withStore(open, values['data-dir'], allProfiles);
      if (values.json) printJson(io, profiles.map(show));
      else if (profiles.length === 0) io.stdout('no profiles\n');
      else for (const profile of profiles) io.stdout(`${profile.name.padEnd(24)} ${describeServers(profile)}${profile.description === undefined ? '' : `  ${profile.description}`}\n`);
      return;
    }
    case 'delete': {
      const name = onePositional('profile delete', positionals, 'profile name');
      // Devices naming the profile are left alone: finding them is a full table scan, and the
      // bootstrap server refuses such a device with a reason the status shows.
      const deleted = await withStore(open, values['data-dir'], (store) => store.deleteProfile(name));
      if (!deleted) throw new InputError(`no profile "${name}"`);
      if (values.json) printJson(io, { deleted: 'profile', name });
      else io.stdout(`profile ${name} deleted\n`);
      return;
    }
    default:
      throw new UsageError(action === undefined ? 'profile needs put, get, list or delete' : `unknown profile action "${action}" (put, get, list, delete)`);
  }
}

/** The profile if both the schema and the configuration checker accept it; every problem otherwise. */
export function validProfile(document: unknown): Profile {
  const parsed = profileSchema.safeParse(document);
  if (!parsed.success) throw invalidDocument('profile', schemaIssues(parsed.error.issues));
  const issues = checkBootstrapConfiguration(parsed.data);
  if (issues.length > 0) throw invalidDocument('profile', issues);
  return parsed.data;
}

/** Every profile; fleets have tens, not thousands, so one array is fine. */
export async function allProfiles(store: BootstrapStore): Promise<Profile[]> {
  const profiles: Profile[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listProfiles(cursor);
    profiles.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return profiles;
}

function describeServers(profile: Profile): string {
  return profile.servers.map((server) => `${server.shortServerId} ${server.uri} ${server.securityMode}`).join(', ');
}
