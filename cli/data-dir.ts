import { resolve } from 'node:path';
import type { BootstrapStore } from '../shared/bootstrap/store.ts';
import { generatePepper, PepperKeyFingerprinter, type KeyFingerprinter } from '../shared/lifecycle/key-fingerprint.ts';

/** Where profiles, devices and outcomes live when no flag or environment says otherwise. */
export const DEFAULT_DATA_DIR = '.lwm2m-bs';

/** The data directory, absolute: `--data-dir` wins over `LWM2M_BS_DATA_DIR`, which wins over ./.lwm2m-bs. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? (env['LWM2M_BS_DATA_DIR'] || undefined) ?? DEFAULT_DATA_DIR;
  return resolve(chosen);
}

export interface OpenedStore {
  readonly store: BootstrapStore;
  /**
   * Takes the fingerprints of the keys written to this store (openLocalStore: the data
   * directory's pepper file). A test double may have none; see withFingerprintedStore.
   */
  readonly fingerprinter?: KeyFingerprinter;
  close(): Promise<void>;
}

/** Opens the store for a data directory; the operator commands take one so tests can hand in a double. */
export type StoreOpener = (dataDirFlag: string | undefined) => Promise<OpenedStore>;

/**
 * The real opener: the running `lwm2m-bs serve`'s table when there is one, else an embedded
 * dynalite under the data directory. Loaded lazily so commands that fail on their arguments
 * never pay for the AWS SDK.
 */
export const openDataDirStore: StoreOpener = async (dataDirFlag) => {
  // The SDK's multi-line "upgrade Node" warning would bury the one line an operator command
  // prints on stderr; Node 20 is supported here until the SDK drops it.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const { openLocalStore } = await import('../server/store/local-store.ts');
  return openLocalStore({ dataDir: resolveDataDir(dataDirFlag) });
};

/** Runs `work` with the store open and always closes it, so the embedded database flushes and the process can exit. */
export async function withStore<T>(open: StoreOpener, dataDirFlag: string | undefined, work: (store: BootstrapStore) => Promise<T>): Promise<T> {
  const opened = await open(dataDirFlag);
  try {
    return await work(opened.store);
  } finally {
    await opened.close();
  }
}

/**
 * Like withStore, with the fingerprinter of the store the opener opened, for commands that write
 * devices: every stored Bootstrap-Server PSK carries its fingerprint, or the store's index counts
 * the device as the only holder of a key it shares. An opener without one (a test double) gets
 * a pepper of this process's own, kept for the process, so the devices its commands write still
 * meet in the index.
 */
export async function withFingerprintedStore<T>(open: StoreOpener, dataDirFlag: string | undefined, work: (store: BootstrapStore, fingerprinter: KeyFingerprinter) => Promise<T>): Promise<T> {
  const opened = await open(dataDirFlag);
  try {
    return await work(opened.store, opened.fingerprinter ?? (processFingerprinter ??= new PepperKeyFingerprinter(generatePepper())));
  } finally {
    await opened.close();
  }
}

let processFingerprinter: KeyFingerprinter | undefined;
