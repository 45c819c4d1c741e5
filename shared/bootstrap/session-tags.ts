import type { PendingAccount } from '../lifecycle/account-replacement.ts';
import { mintSessionId, type PendingServerCredentials } from '../lifecycle/server-credential-rotation.ts';
import { replacementSessionId } from './account-replacement-step.ts';

const BASE_WITH_BOTH_TAGS = 36;

/**
 * The session id of a planned bootstrap, tagged with what it delivers beyond the profile: the
 * pending LwM2M Server credentials, then the account-replacement step (matched at the end).
 * `bootstrap-ended` carries only the id, and the success steps go by these tags.
 */
export function taggedSessionId(sessionId: string, credentials: PendingServerCredentials | undefined, account: PendingAccount | undefined): string {
  // Both tags are 14 characters and ids at most 64: a base of a UUID's length keeps both whole.
  const base = credentials !== undefined && account !== undefined ? sessionId.slice(0, BASE_WITH_BOTH_TAGS) : sessionId;
  const minted = credentials === undefined ? base : mintSessionId(base, credentials);
  return account === undefined ? minted : replacementSessionId(minted, account);
}
