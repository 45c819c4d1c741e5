import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lockDataDir } from './data-dir-lock.ts';

interface DynaliteOptions {
  readonly path?: string;
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}

// dynalite ships no type declarations; this is the one function we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export interface StartDynaliteOptions {
  /** Persist under `<dataDir>/dynamodb` (LevelDB); absent = in memory. */
  readonly dataDir?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
}

export interface RunningDynalite {
  /** `http://host:port`, for a DynamoDBClient's `endpoint`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * An embedded DynamoDB (dynalite) on a loopback port. Table changes take effect at once, so
 * `ensureTable` does not wait. LevelDB holds a lock on its directory: one process at a time.
 */
export async function startDynalite(options: StartDynaliteOptions = {}): Promise<RunningDynalite> {
  let path: string | undefined;
  let unlock = async (): Promise<void> => undefined;
  if (options.dataDir !== undefined) {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    unlock = await lockDataDir(options.dataDir);
    path = join(options.dataDir, 'dynamodb');
  }
  const server = dynalite({ ...(path !== undefined && { path }), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await closeServer(server).catch(() => undefined);
    await unlock();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= closeServer(server).finally(unlock);
      return closing;
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // dynalite's close stops the HTTP server, then closes LevelDB (releasing its lock).
    server.close((error) => (error ? reject(error) : resolve()));
    // Clients keep connections alive; idle ones would hold the close open.
    server.closeIdleConnections();
  });
}

/** A client for a local endpoint: dynalite checks neither region nor credentials. */
export function localDynamoDbClient(endpoint: string, options: { maxAttempts?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // Loopback: a failure is rarely transient, so retry little and fail fast.
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 30_000 },
  });
}
