import { parseArgs } from 'node:util';
import { admitDevice, type DeviceRefusal } from '../../shared/bootstrap/device-admission.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { redactDevice } from '../../shared/bootstrap/redact.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { invalidDocument, onePositional, printJson, readJsonDocument, SHOW_SECRETS_OPTION, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError, UsageError } from '../usage.ts';

/** `lwm2m-bs device put|get|list|delete`: device entries, one at a time (`import` for many). */
export async function deviceCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore): Promise<void> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ...STORE_OPTIONS, ...SHOW_SECRETS_OPTION, profile: { type: 'string', short: 'p' } },
    allowPositionals: true,
    strict: true,
  });
  const show = (device: DeviceEntry): DeviceEntry => (values['show-secrets'] ? device : redactDevice(device));
  if (values.profile !== undefined && action !== 'list') throw new UsageError('--profile only filters device list');
  switch (action) {
    case 'put': {
      const document = await readJsonDocument(onePositional('device put', positionals, 'file (or - for stdin)'), io);
      const device = await withStore(open, values['data-dir'], (store) => putDevice(store, document));
      if (values.json) printJson(io, { stored: 'device', endpoint: device.endpoint, profile: device.profile });
      else io.stdout(`device ${device.endpoint} stored (profile ${device.profile})\n`);
      return;
    }
    case 'get': {
      const endpoint = onePositional('device get', positionals, 'endpoint');
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
      await withStore(open, values['data-dir'], async (store) => {
        // Page by page, so a fleet of 100k prints without being held in memory.
        for await (const device of allDevices(store)) {
          if (wanted !== undefined && device.profile !== wanted) continue;
          if (values.json) io.stdout(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(show(device))}`);
          else io.stdout(`${device.endpoint.padEnd(24)} ${device.profile.padEnd(16)} ${describeLastBootstrap(device)}\n`);
          count += 1;
        }
      });
      if (values.json) io.stdout(count === 0 ? ']\n' : '\n]\n');
      else if (count === 0) io.stdout(wanted === undefined ? 'no devices\n' : `no devices with profile ${wanted}\n`);
      return;
    }
    case 'delete': {
      const endpoint = onePositional('device delete', positionals, 'endpoint');
      const deleted = await withStore(open, values['data-dir'], (store) => store.deleteDevice(endpoint));
      if (!deleted) throw new InputError(`no device "${endpoint}"`);
      if (values.json) printJson(io, { deleted: 'device', endpoint });
      else io.stdout(`device ${endpoint} deleted\n`);
      return;
    }
    default:
      throw new UsageError(action === undefined ? 'device needs put, get, list or delete' : `unknown device action "${action}" (put, get, list, delete)`);
  }
}

/** Stores a device entry once admitDevice accepts it; a refusal is bad input, on one line. */
export async function putDevice(store: BootstrapStore, document: unknown): Promise<DeviceEntry> {
  const admission = await admitDevice(store, document);
  if (!admission.admitted) throw refusalError(admission.refusal);
  await store.putDevice(admission.device);
  return admission.device;
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
