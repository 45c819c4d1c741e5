import { parseArgs } from 'node:util';
import { admitDevice, type DeviceRefusal } from '../../shared/bootstrap/device-admission.ts';
import { lowEntropyRejection, schemaIssues } from '../../shared/bootstrap/device-import.ts';
import { classifyWrittenDeviceKey, withKeyFingerprint } from '../../shared/bootstrap/device-key-classification.ts';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { redactDevice } from '../../shared/bootstrap/redact.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import type { LowEntropyReason } from '../../shared/lifecycle/key-entropy.ts';
import type { KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';
import { AdminApiError, connectAdminApi, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { invalidDocument, onePositional, printJson, readJsonDocument, remoteAdminApi, SHOW_SECRETS_OPTION, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withFingerprintedStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError, UsageError } from '../usage.ts';
import { markBootstrapCommand } from './attach.ts';

/**
 * `lwm2m-bs device put|get|list|delete|mark-bootstrap`: device entries, one at a time (`import`
 * for many), locally or with `--endpoint` through the admin API; `mark-bootstrap` is local only.
 */
export async function deviceCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const [action, ...rest] = args;
  if (action === 'mark-bootstrap') return markBootstrapCommand(rest, io, open);
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ...STORE_OPTIONS, ...SHOW_SECRETS_OPTION, profile: { type: 'string', short: 'p' } },
    allowPositionals: true,
    strict: true,
  });
  const showSecrets = values['show-secrets'];
  const show = (device: DeviceEntry): DeviceEntry => (showSecrets ? device : redactDevice(device));
  if (values.profile !== undefined && action !== 'list') throw new UsageError('--profile only filters device list');
  const api = remoteAdminApi(values, connect);
  switch (action) {
    case 'put': {
      const document = await readJsonDocument(onePositional('device put', positionals, 'file (or - for stdin)'), io);
      // Through the admin API the server takes the fingerprint (under its KMS key) and counts the holders.
      const { device, lowEntropy } =
        api === undefined ? await withFingerprintedStore(open, values['data-dir'], (store, fingerprinter) => putDevice(store, document, fingerprinter)) : await putRemoteDevice(api, document);
      if (values.json) printJson(io, { stored: 'device', endpoint: device.endpoint, profile: device.profile, ...(lowEntropy !== undefined && { lowEntropy }) });
      else io.stdout(`device ${device.endpoint} stored (profile ${device.profile})\n`);
      if (lowEntropy !== undefined) io.stderr?.(`lwm2m-bs: warning: device ${device.endpoint}: ${lowEntropyRejection(lowEntropy)}; stored all the same, its Bootstrap-Server account is replaced at its next bootstrap\n`);
      return;
    }
    case 'get': {
      const endpoint = onePositional('device get', positionals, 'endpoint');
      if (api !== undefined) {
        printJson(io, await api.getDevice(endpoint, { showSecrets }));
        return;
      }
      const device = await withStore(open, values['data-dir'], (store) => store.getDevice(endpoint));
      if (device === undefined) throw new InputError(`no device "${endpoint}"`);
      printJson(io, show(device));
      return;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError('device list takes no arguments (--profile <name> filters)');
      const wanted = values.profile;
      let count = 0;
      if (values.json) io.stdout('[');
      const print = (device: DeviceEntry): void => {
        if (values.json) io.stdout(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(device)}`);
        else io.stdout(`${device.endpoint.padEnd(24)} ${device.profile.padEnd(16)} ${describeLastBootstrap(device)}\n`);
        count += 1;
      };
      // Page by page, so a fleet of 100k prints without being held in memory.
      if (api !== undefined) {
        for await (const device of allRemoteDevices(api, wanted, showSecrets)) print(device);
      } else {
        await withStore(open, values['data-dir'], async (store) => {
          for await (const device of allDevices(store)) if (wanted === undefined || device.profile === wanted) print(show(device));
        });
      }
      if (values.json) io.stdout(count === 0 ? ']\n' : '\n]\n');
      else if (count === 0) io.stdout(wanted === undefined ? 'no devices\n' : `no devices with profile ${wanted}\n`);
      return;
    }
    case 'delete': {
      const endpoint = onePositional('device delete', positionals, 'endpoint');
      if (api !== undefined) await api.deleteDevice(endpoint);
      else if (!(await withStore(open, values['data-dir'], (store) => store.deleteDevice(endpoint)))) throw new InputError(`no device "${endpoint}"`);
      if (values.json) printJson(io, { deleted: 'device', endpoint });
      else io.stdout(`device ${endpoint} deleted\n`);
      return;
    }
    default:
      throw new UsageError(action === undefined ? 'device needs put, get, list or delete' : `unknown device action "${action}" (put, get, list, delete)`);
  }
}

/** A device `device put` stored, with the reasons (never the key) when its bootstrap key is low entropy. */
export interface PutDeviceResult {
  readonly device: DeviceEntry;
  readonly lowEntropy?: readonly LowEntropyReason[];
}

/**
 * Stores a device entry once admitDevice accepts it, as `PUT /devices/{endpoint}` does: with
 * the fingerprint of its bootstrap key taken here (any fingerprint in the document replaced),
 * and the key classified with the other stored devices holding it. A low-entropy key is stored
 * all the same. A refusal is bad input, on one line.
 */
export async function putDevice(store: BootstrapStore, document: unknown, fingerprinter: KeyFingerprinter): Promise<PutDeviceResult> {
  const admission = await admitDevice(store, document);
  if (!admission.admitted) throw refusalError(admission.refusal);
  const device = await withKeyFingerprint(admission.device, fingerprinter);
  // Counted before the write, so the device's own stored version is left out either way.
  const classification = await classifyWrittenDeviceKey(store, device);
  await store.putDevice(device);
  return { device, ...(classification?.entropy === 'low' && { lowEntropy: classification.reasons }) };
}

/**
 * Puts a device entry through the admin API, which admits, fingerprints and classifies it as
 * putDevice does; its refusals print as the local ones (a PSK identity conflict in the server's
 * words), and so does its low-entropy warning.
 */
async function putRemoteDevice(api: AdminApiClient, document: unknown): Promise<{ device: Pick<DeviceEntry, 'endpoint' | 'profile'>; lowEntropy?: readonly LowEntropyReason[] }> {
  const endpoint = (document as { endpoint?: unknown } | null)?.endpoint;
  if (typeof endpoint !== 'string' || endpoint === '') {
    // The endpoint is the path; without one the local schema words the refusal.
    const parsed = deviceEntrySchema.safeParse(document);
    throw invalidDocument('device entry', parsed.success ? [{ field: 'endpoint', message: 'missing' }] : schemaIssues(parsed.error.issues));
  }
  try {
    const stored = await api.putDevice(endpoint, document);
    // An older stack answers without the list: then nothing is known, and nothing is warned.
    return { device: { endpoint: stored.endpoint, profile: stored.profile }, ...(stored.lowEntropy !== undefined && stored.lowEntropy.length > 0 && { lowEntropy: stored.lowEntropy }) };
  } catch (error) {
    if (!(error instanceof AdminApiError)) throw error;
    if (error.code === 'invalid-document' || error.code === 'invalid-configuration') throw invalidDocument('device entry', error.issues);
    if (error.code === 'unknown-profile' || error.code === 'conflict') throw new InputError(error.serverMessage);
    throw error;
  }
}

/** Every device of one profile, or all, one admin API page at a time (a filtered page may be empty yet have a cursor). */
async function* allRemoteDevices(api: AdminApiClient, profile: string | undefined, showSecrets: boolean): AsyncGenerator<DeviceEntry> {
  let cursor: string | undefined;
  do {
    const page = await api.listDevices({ ...(cursor !== undefined && { cursor }), ...(profile !== undefined && { profile }), showSecrets });
    yield* page.items;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

function refusalError(refusal: DeviceRefusal): InputError {
  switch (refusal.reason) {
    case 'invalid-document':
    case 'invalid-configuration':
      return invalidDocument('device entry', refusal.issues);
    case 'unknown-profile':
      return new InputError(`device ${refusal.endpoint}: no profile "${refusal.profile}" (put the profile first)`);
    case 'psk-identity-held':
      return new InputError(`device ${refusal.endpoint}: bootstrapCredentials.identity is already the PSK identity of device ${refusal.holder}`);
  }
}

export async function* allDevices(store: BootstrapStore): AsyncGenerator<DeviceEntry> {
  let cursor: string | undefined;
  do {
    const page = await store.listDevices(cursor);
    yield* page.items;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

function describeLastBootstrap(device: DeviceEntry): string {
  const status = device.status;
  return status === undefined ? 'never bootstrapped' : `${status.outcome} ${status.endedAt}`;
}
