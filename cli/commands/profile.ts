import { allStoredProfiles } from '../../shared/bootstrap/stored-profiles.ts';
import { parseArgs } from 'node:util';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { schemaIssues } from '../../shared/bootstrap/device-import.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import { redactProfile } from '../../shared/bootstrap/redact.ts';
import { AdminApiError, connectAdminApi, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { invalidDocument, onePositional, printJson, readJsonDocument, remoteAdminApi, SHOW_SECRETS_OPTION, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError, UsageError } from '../usage.ts';

/**
 * `lwm2m-bs profile put|get|list|delete`: the fleet templates in the data directory's store, or,
 * with `--endpoint`, in a deployed stack's (the admin API validates and redacts there).
 */
export async function profileCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { ...STORE_OPTIONS, ...SHOW_SECRETS_OPTION }, allowPositionals: true, strict: true });
  const showSecrets = values['show-secrets'];
  const show = (profile: Profile): Profile => (showSecrets ? profile : redactProfile(profile));
  const api = remoteAdminApi(values, connect);
  switch (action) {
    case 'put': {
      const document = await readJsonDocument(onePositional('profile put', positionals, 'file (or - for stdin)'), io);
      let profile: Profile;
      if (api === undefined) {
        profile = validProfile(document);
        await withStore(open, values['data-dir'], (store) => store.putProfile(profile));
      } else profile = await putRemoteProfile(api, document);
      if (values.json) printJson(io, { stored: 'profile', name: profile.name });
      else io.stdout(`profile ${profile.name} stored (${describeServers(profile)})\n`);
      return;
    }
    case 'get': {
      const name = onePositional('profile get', positionals, 'profile name');
      if (api !== undefined) {
        printJson(io, await api.getProfile(name, { showSecrets }));
        return;
      }
      const profile = await withStore(open, values['data-dir'], (store) => store.getProfile(name));
      if (profile === undefined) throw new InputError(`no profile "${name}"`);
      printJson(io, show(profile));
      return;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError('profile list takes no arguments');
      // Remotely the server redacts; locally `show` does.
      const profiles = api === undefined ? (await withStore(open, values['data-dir'], allStoredProfiles)).map(show) : await allRemoteProfiles(api, showSecrets);
      if (values.json) printJson(io, profiles);
      else if (profiles.length === 0) io.stdout('no profiles\n');
      else for (const profile of profiles) io.stdout(`${profile.name.padEnd(24)} ${describeServers(profile)}${profile.description === undefined ? '' : `  ${profile.description}`}\n`);
      return;
    }
    case 'delete': {
      const name = onePositional('profile delete', positionals, 'profile name');
      // Devices naming the profile are left alone: finding them is a full table scan, and the
      // bootstrap server refuses such a device with a reason the status shows.
      if (api !== undefined) await api.deleteProfile(name);
      else if (!(await withStore(open, values['data-dir'], (store) => store.deleteProfile(name)))) throw new InputError(`no profile "${name}"`);
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

/**
 * Puts a profile through the admin API, which validates it as validProfile does (400 for the
 * schema, 422 for the checker); either refusal prints as the local one. Returns the profile with
 * its defaults for the summary line.
 */
async function putRemoteProfile(api: AdminApiClient, document: unknown): Promise<Profile> {
  const name = (document as { name?: unknown } | null)?.name;
  // The name is the path; without one the local check words the refusal.
  if (typeof name !== 'string' || name === '') return validProfile(document);
  try {
    await api.putProfile(name, document);
  } catch (error) {
    if (error instanceof AdminApiError && (error.code === 'invalid-document' || error.code === 'invalid-configuration')) {
      throw invalidDocument('profile', error.issues);
    }
    throw error;
  }
  const parsed = profileSchema.safeParse(document);
  // A server newer than this CLI may take what the local schema does not; ask it then.
  return parsed.success ? parsed.data : api.getProfile(name);
}

async function allRemoteProfiles(api: AdminApiClient, showSecrets: boolean): Promise<Profile[]> {
  const profiles: Profile[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listProfiles({ ...(cursor !== undefined && { cursor }), showSecrets });
    profiles.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return profiles;
}

function describeServers(profile: Profile): string {
  return profile.servers.map((server) => `${server.shortServerId} ${server.uri} ${server.securityMode}`).join(', ');
}
