import type { Profile } from './profile.ts';
import type { BootstrapStore } from './store.ts';

/** Every stored profile, following the store's pages: what imports validate rows against. */
export async function allStoredProfiles(store: Pick<BootstrapStore, 'listProfiles'>): Promise<Profile[]> {
  const profiles: Profile[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listProfiles(cursor);
    profiles.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return profiles;
}
