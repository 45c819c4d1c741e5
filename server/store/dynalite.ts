import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lockDataDir } from './data-dir-lock.ts';
import { serveDynalite, type DynaliteThreadMessage, type DynaliteThreadRequest, type ServeDynaliteOptions } from './dynalite-thread.ts';

export interface StartDynaliteOptions {
  /** Persist under `<dataDir>/dynamodb` (LevelDB); absent = in memory. */
  readonly dataDir?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /**
   * Serve from a worker thread, so dynalite's request parsing and storage do not take the
   * caller's event loop (the local server's gateway). Off by default: a short-lived CLI command
   * would pay the worker's start (a second isolate, tsx) for nothing.
   */
  readonly thread?: boolean;
}

export interface RunningDynalite {
  /** `http://host:port`, for a DynamoDBClient's `endpoint`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * An embedded DynamoDB (dynalite) on a loopback port. LevelDB holds a lock on its directory:
 * one process at a time, and the data-dir lock says which (held by this process even when
 * dynalite runs on a worker thread, since the worker is part of it).
 */
export async function startDynalite(options: StartDynaliteOptions = {}): Promise<RunningDynalite> {
  let path: string | undefined;
  let unlock = async (): Promise<void> => undefined;
  if (options.dataDir !== undefined) {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    unlock = await lockDataDir(options.dataDir);
    path = join(options.dataDir, 'dynamodb');
  }
  const host = options.host ?? '127.0.0.1';
  const serve: ServeDynaliteOptions = { ...(path !== undefined && { path }), port: options.port ?? 0, host };
  let served: { port: number; close(): Promise<void> };
  try {
    served = options.thread === true ? await serveOnWorker(serve) : await serveDynalite(serve);
  } catch (error) {
    await unlock();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${served.port}`,
    close() {
      closing ??= served.close().finally(unlock);
      return closing;
    },
  };
}

const THREAD_ENTRY = new URL('./dynalite-thread.mjs', import.meta.url);

/**
 * dynalite on a worker thread of its own. An error the worker throws after it listens is left
 * without a listener, so it is fatal to the process, as the same error is with dynalite on the
 * caller's thread: the store of record is gone.
 */
async function serveOnWorker(serve: ServeDynaliteOptions): Promise<{ port: number; close(): Promise<void> }> {
  // No inherited execArgv: `--import tsx` would load tsx twice; the entry registers it itself.
  const worker = new Worker(THREAD_ENTRY, { workerData: serve, execArgv: [] });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const next = (): Promise<DynaliteThreadMessage> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        worker.off('message', onMessage);
        reject(error);
      };
      const onMessage = (message: DynaliteThreadMessage): void => {
        worker.off('error', onError);
        resolve(message);
      };
      worker.once('error', onError);
      worker.once('message', onMessage);
      void exited.then((code) => reject(new Error(`the dynalite thread exited with ${code}`)));
    });
  let started: DynaliteThreadMessage;
  try {
    started = await next();
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  if (started.type !== 'listening') {
    await worker.terminate();
    if (started.type === 'failed') {
      // Rebuilt here: the code (EADDRINUSE, ...) does not survive an Error's structured clone.
      const failure: NodeJS.ErrnoException = new Error(started.message);
      if (started.code !== undefined) failure.code = started.code;
      throw failure;
    }
    throw new Error(`the dynalite thread said ${started.type} before it listened`);
  }
  return {
    port: started.port,
    async close() {
      const request: DynaliteThreadRequest = { type: 'close' };
      worker.postMessage(request);
      let error: unknown;
      try {
        const closed = await next();
        if (closed.type === 'closed' && closed.error !== undefined) error = new Error(closed.error);
      } catch (died) {
        // A worker that already exited has nothing left to close.
        if (!(died instanceof Error && died.message.startsWith('the dynalite thread exited'))) error = died;
      }
      // The server and LevelDB are closed; the worker would exit by itself, this makes it now.
      await worker.terminate();
      await exited;
      if (error !== undefined) throw error;
    },
  };
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
