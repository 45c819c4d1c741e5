import { parseArgs } from 'node:util';
import type { DeviceStatus } from '../../shared/bootstrap/device.ts';
import { contentFormatName } from '../../shared/content/format.ts';
import { connectAdminApi, type AdminApiConnector, type DeviceStatusAnswer } from '../admin-api-client.ts';
import { onePositional, printJson, remoteAdminApi, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withStore, type StoreOpener } from '../data-dir.ts';
import { InputError } from '../usage.ts';

const KIND_NAMES: Readonly<Record<DeviceStatus['kind'], string>> = {
  bs: 'Bootstrap-Request',
  bspack: 'Bootstrap-Pack-Request',
};

/** `lwm2m-bs status <endpoint>`: the device's last bootstrap as the server recorded it, locally or with `--endpoint` through the admin API. */
export async function statusCommand(args: string[], io: AdminIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: STORE_OPTIONS, allowPositionals: true, strict: true });
  const endpoint = onePositional('status', positionals, 'endpoint');
  const api = remoteAdminApi(values, connect);
  // The admin API answers in the shape --json prints.
  const answer = api === undefined ? await localStatus(open, values['data-dir'], endpoint) : await api.getDeviceStatus(endpoint);
  if (values.json) {
    printJson(io, answer);
    return;
  }
  io.stdout(answer.status === null ? `device ${endpoint} has never bootstrapped\n` : describeStatus(endpoint, answer.status));
}

async function localStatus(open: StoreOpener, dataDir: string | undefined, endpoint: string): Promise<DeviceStatusAnswer> {
  const device = await withStore(open, dataDir, (store) => store.getDevice(endpoint));
  if (device === undefined) throw new InputError(`no device "${endpoint}"`);
  const status = device.status;
  return {
    endpoint,
    status: status === undefined ? null : { ...status, ...(status.contentFormat !== undefined && { contentFormatName: contentFormatName(status.contentFormat) }) },
  };
}

export function describeStatus(endpoint: string, status: DeviceStatus): string {
  const rows: [string, string | undefined][] = [
    ['endpoint', endpoint],
    ['outcome', status.outcome],
    ['started', status.startedAt],
    ['ended', status.endedAt],
    ['kind', `${status.kind} (${KIND_NAMES[status.kind]})`],
    ['client', status.clientVersion === undefined ? undefined : `LwM2M ${status.clientVersion}`],
    ['format', status.contentFormat === undefined ? undefined : `${contentFormatName(status.contentFormat)} (${status.contentFormat})`],
    ['detail', status.detail],
    ['session', status.sessionId],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([label, value]) => `${label.padEnd(9)}${value}\n`)
    .join('');
}
