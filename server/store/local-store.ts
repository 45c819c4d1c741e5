import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { isAlive } from './data-dir-lock.ts';
import { DynamoDbBootstrapStore } from './dynamodb-store.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from './dynalite.ts';
import { dataDirKeyFingerprinter } from './pepper-file.ts';
import { DEFAULT_TABLE_NAME, ensureTable } from './table.ts';
import type { KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';

const SERVER_INFO_FILE = 'server.json';

/** What a running `lwm2m-bs serve` announces in its data directory. */
export interface ServerInfo {
  readonly pid: number;
  readonly dynamodbEndpoint: string;
  /** Where `POST /attach` takes carrier attach events; absent when serve runs with --no-attach. */
  readonly attachUrl?: string;
}

const serverInfoSchema = z.object({
  pid: z.number().int().positive(),
  dynamodbEndpoint: z.url({ protocol: /^https?$/ }),
  attachUrl: z.url({ protocol: /^http$/ }).optional(),
});

export interface LocalStore {
  readonly store: DynamoDbBootstrapStore;
  readonly endpoint: string;
  /** True when this process started dynalite; false when it talks to a running server's. */
  readonly embedded: boolean;
  /** Fingerprints keys under the data directory's pepper file (created on first use). */
  readonly fingerprinter: KeyFingerprinter;
  close(): Promise<void>;
}

/**
 * The store of a data directory, for CLI commands. A running server owns the LevelDB lock, so
 * when one has announced itself (alive, and its endpoint answers) we use its dynalite;
 * otherwise we start our own on the directory.
 */
export async function openLocalStore(options: { dataDir: string; tableName?: string }): Promise<LocalStore> {
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME;
  const running = await runningServerEndpoint(options.dataDir);
  let dynalite: RunningDynalite | undefined;
  let endpoint = running;
  if (endpoint === undefined) {
    dynalite = await startDynalite({ dataDir: options.dataDir });
    endpoint = dynalite.endpoint;
  }
  const client = localDynamoDbClient(endpoint);
  const close = async (): Promise<void> => {
    client.destroy();
    await dynalite?.close();
  };
  try {
    await ensureTable(client, tableName);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    store: new DynamoDbBootstrapStore({ client, tableName }),
    endpoint,
    embedded: dynalite !== undefined,
    fingerprinter: dataDirKeyFingerprinter(options.dataDir),
    close,
  };
}

/** Announces this process's dynalite to CLI commands run against the same data directory. */
export async function writeServerInfo(dataDir: string, info: ServerInfo): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // The directory holds every device's keys; mkdir's mode does not tighten one that exists.
  await chmod(dataDir, 0o700);
  const path = join(dataDir, SERVER_INFO_FILE);
  // Written aside and renamed, so a reader never sees half a file.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

export async function removeServerInfo(dataDir: string): Promise<void> {
  await rm(join(dataDir, SERVER_INFO_FILE), { force: true });
}

/**
 * The attach URL a running server announces in the data directory, so `lwm2m-bs attach` hands
 * events to it and the bootstrap is pushed through its gateway.
 */
export async function runningAttachUrl(dataDir: string): Promise<string | undefined> {
  return (await runningServerInfo(dataDir))?.attachUrl;
}

async function runningServerEndpoint(dataDir: string): Promise<string | undefined> {
  return (await runningServerInfo(dataDir))?.dynamodbEndpoint;
}

async function runningServerInfo(dataDir: string): Promise<ServerInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, SERVER_INFO_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let info: z.infer<typeof serverInfoSchema>;
  try {
    info = serverInfoSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (!isAlive(info.pid)) return undefined;
  // The pid may have been reused by an unrelated process: the endpoint must answer too.
  if (!(await answers(info.dynamodbEndpoint))) return undefined;
  return { pid: info.pid, dynamodbEndpoint: info.dynamodbEndpoint, ...(info.attachUrl !== undefined && { attachUrl: info.attachUrl }) };
}

async function answers(endpoint: string): Promise<boolean> {
  const client = localDynamoDbClient(endpoint, { maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}
