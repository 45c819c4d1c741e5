import type { LowEntropyReason } from '../lifecycle/key-entropy.ts';
import { checkBootstrapConfiguration } from './checker.ts';
import type { ConfigurationIssue } from './configuration-error.ts';
import { classifyBatchKeys, schemaIssues } from './device-import.ts';
import { deviceEntrySchema, type DeviceEntry } from './device.ts';
import type { BootstrapStore } from './store.ts';

/**
 * Whether one device entry may be stored, as `device put` and `PUT /devices/{endpoint}` decide
 * it: the schema, then its profile, then the configuration checker, then the bootstrap PSK
 * identity (the DTLS handshake finds keys by it, so no two devices may share one). Each edge
 * words the refusal its own way (an InputError line, an HTTP status); the judgement is here.
 * Issues name fields and endpoints, never the values sent.
 */
export type DeviceRefusal =
  | { readonly reason: 'invalid-document'; readonly issues: readonly ConfigurationIssue[] }
  | { readonly reason: 'unknown-profile'; readonly endpoint: string; readonly profile: string; readonly issues: readonly ConfigurationIssue[] }
  | { readonly reason: 'invalid-configuration'; readonly endpoint: string; readonly issues: readonly ConfigurationIssue[] }
  | { readonly reason: 'psk-identity-held'; readonly endpoint: string; readonly holder: string; readonly issues: readonly ConfigurationIssue[] };

/**
 * An admitted device whose bootstrap PSK classifies low entropy carries the reasons (never the
 * key): it is stored all the same, and its account is replaced at its next bootstrap. A key
 * shared with other stored devices is not seen here; that needs the store's fingerprint index.
 */
export type DeviceAdmission =
  | { readonly admitted: true; readonly device: DeviceEntry; readonly lowEntropy?: readonly LowEntropyReason[] }
  | { readonly admitted: false; readonly refusal: DeviceRefusal };

export interface DeviceAdmissionOptions {
  /**
   * The endpoint the caller addressed apart from the document (an HTTP path), and what to call
   * that in the issue: a document naming another endpoint is invalid.
   */
  readonly expectedEndpoint?: { readonly endpoint: string; readonly from: string };
}

export async function admitDevice(store: Pick<BootstrapStore, 'getProfile' | 'findDevice'>, document: unknown, options: DeviceAdmissionOptions = {}): Promise<DeviceAdmission> {
  const parsed = deviceEntrySchema.safeParse(document);
  if (!parsed.success) return refuse({ reason: 'invalid-document', issues: schemaIssues(parsed.error.issues) });
  const device = parsed.data;
  const { endpoint } = device;
  const expected = options.expectedEndpoint;
  if (expected !== undefined && endpoint !== expected.endpoint) {
    return refuse({ reason: 'invalid-document', issues: [{ field: 'endpoint', message: `does not match the ${expected.from}` }] });
  }

  const profile = await store.getProfile(device.profile);
  if (profile === undefined) return refuse({ reason: 'unknown-profile', endpoint, profile: device.profile, issues: [{ field: 'profile', message: 'no such profile' }] });
  const issues = checkBootstrapConfiguration(profile, device);
  if (issues.length > 0) return refuse({ reason: 'invalid-configuration', endpoint, issues });

  const credentials = device.bootstrapCredentials;
  if (credentials?.securityMode === 'psk' && credentials.identity !== undefined) {
    // Putting a device again keeps its own identity: only another endpoint holding it is a clash.
    const holder = await store.findDevice('pskIdentity', credentials.identity);
    if (holder !== undefined && holder.endpoint !== endpoint) {
      return refuse({
        reason: 'psk-identity-held',
        endpoint,
        holder: holder.endpoint,
        issues: [{ field: 'bootstrapCredentials.identity', message: `already the bootstrap PSK identity of device ${holder.endpoint}` }],
      });
    }
  }
  const low = classifyBatchKeys([{ device, position: { row: 1 } }])[0];
  return low === undefined ? { admitted: true, device } : { admitted: true, device, lowEntropy: low.reasons };
}

function refuse(refusal: DeviceRefusal): DeviceAdmission {
  return { admitted: false, refusal };
}
