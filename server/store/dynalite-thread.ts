/**
 * dynalite serving HTTP from whichever thread calls `serveDynalite`: the caller's own, or a
 * worker's (`runDynaliteThread`, entered through dynalite-thread.mjs). Nothing here runs on
 * import, and nothing here loads the AWS SDK, so a worker starts with dynalite alone.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

interface DynaliteOptions {
  readonly path?: string;
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}

// dynalite ships no type declarations; this is the one function we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

export interface ServeDynaliteOptions {
  /** LevelDB directory; absent = in memory. */
  readonly path?: string;
  readonly port: number;
  readonly host: string;
}

export interface ServedDynalite {
  readonly port: number;
  /** Stops the HTTP server, then closes LevelDB (releasing its directory lock). */
  close(): Promise<void>;
}

/** Table changes take effect at once, so `ensureTable` does not wait. */
export async function serveDynalite(options: ServeDynaliteOptions): Promise<ServedDynalite> {
  const server = dynalite({ ...(options.path !== undefined && { path: options.path }), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await closeServer(server).catch(() => undefined);
    throw error;
  }
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // dynalite's close stops the HTTP server, then closes LevelDB.
    server.close((error) => (error ? reject(error) : resolve()));
    // Clients keep connections alive; idle ones would hold the close open.
    server.closeIdleConnections();
  });
}

/** What the worker tells its parent, in order: `listening` or `failed`, then `closed` once asked. */
export type DynaliteThreadMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string; readonly code?: string }
  | { readonly type: 'closed'; readonly error?: string };

/** What the parent tells the worker. */
export interface DynaliteThreadRequest {
  readonly type: 'close';
}

/** The worker's body: serve as `workerData` says, report the port, close when told. */
export async function runDynaliteThread(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('runDynaliteThread runs on a worker thread');
  const post = (message: DynaliteThreadMessage): void => port.postMessage(message);
  let served: ServedDynalite;
  try {
    served = await serveDynalite(workerData as ServeDynaliteOptions);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error), ...(code !== undefined && { code }) });
    return;
  }
  port.once('message', (request: DynaliteThreadRequest) => {
    if (request.type !== 'close') return;
    served.close().then(
      () => post({ type: 'closed' }),
      (error: unknown) => post({ type: 'closed', error: error instanceof Error ? error.message : String(error) }),
    );
  });
  post({ type: 'listening', port: served.port });
}
