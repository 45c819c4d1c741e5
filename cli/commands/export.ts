import { connectAdminApi, type AdminApiConnector } from '../admin-api-client.ts';
import { openDataDirStore, type StoreOpener } from '../data-dir.ts';
import { UsageError } from '../usage.ts';
import { exportFactory } from './export-factory.ts';
import { exportSmartcard } from './export-smartcard.ts';
import type { ImportIO } from './import.ts';

/** `lwm2m-bs export factory|smartcard`: the files a device or its card is loaded with, written per device. */
export async function exportCommand(args: string[], io: ImportIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const [what, ...rest] = args;
  if (what === 'smartcard') return exportSmartcard(rest, io, open, connect);
  if (what !== 'factory') throw new UsageError(what === undefined ? 'export needs what to export: factory or smartcard' : `unknown export "${what}" (factory, smartcard)`);
  return exportFactory(rest, io, open, connect);
}
