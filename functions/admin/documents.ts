import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { schemaIssues } from '../../shared/bootstrap/device-import.ts';
import { admitDevice } from '../../shared/bootstrap/device-admission.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { ApiError, issuesOf } from './http.ts';

/**
 * The checks of `lwm2m-bs profile put` and `device put`, answering in HTTP terms: a document the
 * schema refuses is a 400, a well-formed one that would not bootstrap is a 422, a bootstrap PSK
 * identity another device holds is a 409.
 */
export function validProfile(document: unknown, name: string): Profile {
  const parsed = profileSchema.safeParse(withKey(document, 'name', name));
  if (!parsed.success) throw new ApiError(400, 'invalid-document', 'invalid profile', issuesOf(schemaIssues(parsed.error.issues)));
  if (parsed.data.name !== name) throw new ApiError(400, 'invalid-document', 'invalid profile', [{ field: 'name', message: `does not match the path (${name})` }]);
  const issues = checkBootstrapConfiguration(parsed.data);
  if (issues.length > 0) throw new ApiError(422, 'invalid-configuration', `profile ${name} would not bootstrap`, issuesOf(issues));
  return parsed.data;
}

export async function validDevice(store: BootstrapStore, document: unknown, endpoint: string): Promise<DeviceEntry> {
  const admission = await admitDevice(store, withKey(document, 'endpoint', endpoint), { expectedEndpoint: { endpoint, from: 'path' } });
  if (admission.admitted) return admission.device;
  const refusal = admission.refusal;
  switch (refusal.reason) {
    case 'invalid-document':
      throw new ApiError(400, 'invalid-document', 'invalid device entry', issuesOf(refusal.issues));
    case 'unknown-profile':
      throw new ApiError(422, 'unknown-profile', `device ${endpoint}: no profile "${refusal.profile}" (put the profile first)`, issuesOf(refusal.issues));
    case 'invalid-configuration':
      throw new ApiError(422, 'invalid-configuration', `device ${endpoint} would not bootstrap`, issuesOf(refusal.issues));
    case 'psk-identity-held':
      throw new ApiError(409, 'conflict', `device ${endpoint}: its bootstrap PSK identity is held by device ${refusal.holder}`, issuesOf(refusal.issues));
  }
}

/** The path names the resource; a body may leave the name out, but not contradict it (checked after parsing). */
function withKey(document: unknown, key: string, value: string): unknown {
  if (typeof document !== 'object' || document === null || Array.isArray(document) || key in document) return document;
  return { ...document, [key]: value };
}
