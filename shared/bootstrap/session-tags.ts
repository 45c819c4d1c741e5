import type { PendingAccount } from '../lifecycle/account-replacement.ts';
import { mintSessionId, type PendingServerCredentials } from '../lifecycle/server-credential-rotation.ts';
import { replacementSessionId, type ReplacementStep } from './account-replacement-step.ts';

const BASE_WITH_BOTH_TAGS = 36;

/**
 * The session id of a planned bootstrap, tagged with what it delivers beyond the profile: the
 * pending LwM2M Server credentials, then the account-replacement step (matched at the end).
 * `bootstrap-ended` carries only the id, and the success steps go by these tags.
 */
export function taggedSessionId(
  sessionId: string,
  credentials: PendingServerCredentials | undefined,
  account: { readonly pending?: PendingAccount; readonly step?: ReplacementStep },
): string {
  // Both tags are 14 characters and ids at most 64: a base of a UUID's length keeps both whole.
  const { pending, step } = account;
  const replaced = pending !== undefined && step !== undefined;
  const base = credentials !== undefined && replaced ? sessionId.slice(0, BASE_WITH_BOTH_TAGS) : sessionId;
  const minted = credentials === undefined ? base : mintSessionId(base, credentials);
  return replaced ? replacementSessionId(minted, pending, step) : minted;
}
