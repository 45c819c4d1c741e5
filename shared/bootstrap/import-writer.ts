import type { RejectedRow } from './device-import.ts';
import type { DeviceEntry } from './device.ts';
import type { BootstrapStore, BulkWriteResult } from './store.ts';

/**
 * Writes a validated import all or nothing. The store has no transactions, so a failure while
 * writing is undone by hand: every device's previous version is read first, and written back
 * (or the new device deleted) when the store refuses part of a chunk or fails a call. What is
 * reported names endpoints and error kinds, never the values written: a device carries keys.
 */

/** Devices per putDevices call: progress moves, and a store failure stops after one chunk's worth. */
export const IMPORT_WRITE_CHUNK = 1000;
/** Store calls in flight while reading what a write replaces, or rolling back. */
export const IMPORT_STORE_CONCURRENCY = 16;

export type ImportStore = Pick<BootstrapStore, 'getDevice' | 'putDevice' | 'putDevices' | 'deleteDevice'>;

/** Told how many devices are written: after each chunk, and once when writing stops (before any rollback). */
export interface ImportWriteProgress {
  chunkWritten(written: number): void;
  stopped(written: number): void;
}

export interface ImportWriteOptions {
  readonly chunkSize?: number;
  readonly concurrency?: number;
  readonly progress?: ImportWriteProgress;
}

export interface ImportWriteReport {
  /** Devices the store holds from this import: all of them, or after a rollback those it could not take back. */
  readonly written: number;
  /** Devices the store refused, `row` being the device's 1-based place in what was written, `field` "(store)". */
  readonly rejected: readonly RejectedRow[];
  /** True when the store refused or failed a write and what had been written was taken back. */
  readonly rolledBack: boolean;
  /** The store's error, when a write call failed as a whole (rather than refusing devices). */
  readonly storeError?: string;
  /** Endpoints the rollback could not restore, sorted: they may hold the imported configuration. */
  readonly notRestored?: readonly string[];
}

/** The store could not say what the devices are now, so nothing could be undone: nothing was written. */
export class ImportSnapshotError extends Error {
  override readonly name = 'ImportSnapshotError';

  constructor(cause: unknown) {
    super(`cannot read the stored devices before writing (${describeStoreError(cause)}); nothing written`, { cause });
  }
}

/** Throws ImportSnapshotError before the first write; otherwise every failure is in the report. */
export async function writeImport(store: ImportStore, devices: readonly DeviceEntry[], options: ImportWriteOptions = {}): Promise<ImportWriteReport> {
  const concurrency = options.concurrency ?? IMPORT_STORE_CONCURRENCY;
  const previous = await readPreviousVersions(store, devices, concurrency);
  const outcome = await writeChunks(store, devices, options.chunkSize ?? IMPORT_WRITE_CHUNK, options.progress);
  if (outcome.failure === undefined) return { written: outcome.written, rejected: [], rolledBack: false };
  const notRestored = await rollBack(store, devices.slice(0, outcome.attempted), previous, concurrency);
  return {
    written: notRestored.length,
    rejected: outcome.failure.rejected,
    rolledBack: true,
    ...(outcome.failure.error !== undefined && { storeError: outcome.failure.error }),
    ...(notRestored.length > 0 && { notRestored }),
  };
}

/** SDK and store errors name the failure and endpoints, never the values written. */
export function describeStoreError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}

/** Every device as the store holds it now (undefined for new endpoints). */
async function readPreviousVersions(store: ImportStore, devices: readonly DeviceEntry[], concurrency: number): Promise<Map<string, DeviceEntry | undefined>> {
  const previous = new Map<string, DeviceEntry | undefined>();
  try {
    await forEachBounded(devices, concurrency, async (device) => {
      previous.set(device.endpoint, await store.getDevice(device.endpoint));
    });
  } catch (error) {
    throw new ImportSnapshotError(error);
  }
  return previous;
}

interface WriteOutcome {
  readonly written: number;
  /** Devices handed to the store, from the start: every one of them may have been written. */
  readonly attempted: number;
  /** Set when a chunk was refused in part or failed: writing stopped there. */
  readonly failure?: { readonly rejected: readonly RejectedRow[]; readonly error?: string };
}

async function writeChunks(store: ImportStore, devices: readonly DeviceEntry[], chunkSize: number, progress: ImportWriteProgress | undefined): Promise<WriteOutcome> {
  let written = 0;
  for (let start = 0; start < devices.length; start += chunkSize) {
    const chunk = devices.slice(start, start + chunkSize);
    const attempted = start + chunk.length;
    let result: BulkWriteResult;
    try {
      result = await store.putDevices(chunk);
    } catch (error) {
      progress?.stopped(written);
      return { written, attempted, failure: { rejected: [], error: describeStoreError(error) } };
    }
    written += result.written;
    if (result.rejected.length > 0) {
      progress?.stopped(written);
      const rows = new Map(chunk.map((device, index) => [device.endpoint, start + index + 1]));
      const rejected = result.rejected.map((refusal) => ({ row: rows.get(refusal.endpoint) ?? 0, endpoint: refusal.endpoint, field: '(store)', reason: refusal.reason }));
      return { written, attempted, failure: { rejected } };
    }
    progress?.chunkWritten(written);
  }
  progress?.stopped(written);
  return { written, attempted: devices.length };
}

/** Puts back what `previous` read; returns the endpoints it could not restore. */
async function rollBack(store: ImportStore, attempted: readonly DeviceEntry[], previous: ReadonlyMap<string, DeviceEntry | undefined>, concurrency: number): Promise<string[]> {
  const unrestored: string[] = [];
  await forEachBounded(attempted, concurrency, async ({ endpoint }) => {
    const before = previous.get(endpoint);
    try {
      // putDevice leaves the recorded status alone, so the old entry's status needs no care.
      if (before === undefined) await store.deleteDevice(endpoint);
      else await store.putDevice(before);
    } catch {
      unrestored.push(endpoint);
    }
  });
  return unrestored.sort();
}

async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) await work(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
