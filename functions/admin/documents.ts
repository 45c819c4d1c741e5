import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { ConfigurationError } from '../../shared/bootstrap/configuration-error.ts';
import { schemaIssues } from '../../shared/bootstrap/device-import.ts';
import { admitDevice } from '../../shared/bootstrap/device-admission.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { factoryExport } from '../../shared/factory/factory-export.ts';
import { CodecError } from '../../shared/errors.ts';
import { cardKeys, NO_SCP03_KEYS_FIELD, smartcardFiles, type SmartcardFile } from '../../shared/smartcard/smartcard-export.ts';
import { ApiError, issuesOf, notFound } from './http.ts';

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

/** `GET /devices/{endpoint}/factory`: the files as base64, each with its media type. */
export interface FactoryExportAnswer {
  readonly endpoint: string;
  readonly keysIncluded: boolean;
  readonly omittedSecrets: readonly string[];
  readonly warnings: readonly string[];
  readonly files: readonly { readonly name: string; readonly mediaType: string; readonly base64: string }[];
}

/**
 * A stored device's factory bootstrap information, as `lwm2m-bs export factory` writes it:
 * 404 for an unknown device, 422 when its profile is gone or the pair would not bootstrap
 * (the checker's fields, never values).
 */
export async function factoryExportOf(store: BootstrapStore, endpoint: string, includeKeys: boolean, generatedAt: string): Promise<FactoryExportAnswer> {
  const device = await store.getDevice(endpoint);
  if (device === undefined) throw notFound(`device "${endpoint}"`);
  const profile = await store.getProfile(device.profile);
  if (profile === undefined) throw new ApiError(422, 'unknown-profile', `device ${endpoint}: no profile "${device.profile}"`);
  const exported = factoryExport({ endpoint, profile: profile.name, plan: compiledPlan(profile, device), includeKeys, generatedAt });
  return {
    endpoint: exported.endpoint,
    keysIncluded: exported.keysIncluded,
    omittedSecrets: exported.omittedSecrets,
    warnings: exported.warnings,
    files: exported.files.map((file) => ({ name: file.name, mediaType: file.mediaType, base64: Buffer.from(file.bytes).toString('base64') })),
  };
}

/** `POST /devices/{endpoint}/smartcard`: the files as base64, and whether keys were generated and stored. */
export interface SmartcardExportAnswer {
  readonly endpoint: string;
  readonly scp03Generated: boolean;
  readonly files: readonly { readonly name: string; readonly mediaType: string; readonly base64: string }[];
}

export const NO_SCP03_KEYS_MESSAGE = 'the device has no SCP03 keys; generateScp03Keys: true makes and stores them';

/**
 * A stored device's smartcard export, as `lwm2m-bs export smartcard` writes it: 404 for an
 * unknown device, 422 when its profile is gone, the pair would not bootstrap, the file would not
 * fit the card, or the device has no SCP03 keys and `generate` is false. Generated keys are
 * stored on the device entry only once its files are made; a device that has keys keeps them,
 * so a retry after a lost answer gets the same keys.
 */
export async function smartcardExportOf(store: BootstrapStore, endpoint: string, generate: boolean): Promise<SmartcardExportAnswer> {
  const device = await store.getDevice(endpoint);
  if (device === undefined) throw notFound(`device "${endpoint}"`);
  const profile = await store.getProfile(device.profile);
  if (profile === undefined) throw new ApiError(422, 'unknown-profile', `device ${endpoint}: no profile "${device.profile}"`);
  const plan = compiledPlan(profile, device);
  const keys = cardKeys(device, generate);
  if (keys === undefined) {
    throw new ApiError(422, 'invalid-configuration', `device ${endpoint} has no SCP03 keys`, [{ field: NO_SCP03_KEYS_FIELD, message: NO_SCP03_KEYS_MESSAGE }]);
  }
  let files: SmartcardFile[];
  try {
    files = smartcardFiles(plan, keys.record);
  } catch (error) {
    if (error instanceof CodecError) throw new ApiError(422, 'invalid-configuration', `device ${endpoint}: no card bootstrap file can be made of it (${error.message})`);
    throw error;
  }
  if (keys.generated) await store.putDevice({ ...device, smartcard: { scp03: keys.record } });
  return { endpoint, scp03Generated: keys.generated, files: files.map((file) => ({ name: file.name, mediaType: file.mediaType, base64: Buffer.from(file.bytes).toString('base64') })) };
}

function compiledPlan(profile: Profile, device: DeviceEntry): BootstrapPlan {
  try {
    return compileBootstrapPlan(profile, device);
  } catch (error) {
    if (error instanceof ConfigurationError) throw new ApiError(422, 'invalid-configuration', `device ${device.endpoint} would not bootstrap`, issuesOf(error.issues));
    throw error;
  }
}

/** The path names the resource; a body may leave the name out, but not contradict it (checked after parsing). */
function withKey(document: unknown, key: string, value: string): unknown {
  if (typeof document !== 'object' || document === null || Array.isArray(document) || key in document) return document;
  return { ...document, [key]: value };
}
