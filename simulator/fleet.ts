import { SimulatedClient, type BootstrapRunResult, type SimulatedClientOptions } from './client.ts';
import type { PeerAddress } from './transport.ts';
import type { ClientVersion } from './versions.ts';

/**
 * N simulated clients, at most `concurrency` bootstrapping at once, versions taken round robin.
 * Endpoints are `<endpointPrefix>-<index>`. Each client's sockets are closed as soon as its run
 * ends, so a bench of thousands holds only `concurrency` clients' sockets at a time.
 */
export interface FleetOptions {
  readonly count: number;
  readonly concurrency: number;
  readonly versions: readonly ClientVersion[];
  readonly endpointPrefix: string;
  readonly bootstrapServer: PeerAddress;
  readonly register?: boolean;
  readonly useBootstrapPack?: boolean;
  readonly timeouts?: SimulatedClientOptions['timeouts'];
  /** Anything else per client (formats, refusal code...), by index and version. */
  readonly clientOptions?: (index: number, version: ClientVersion) => Partial<SimulatedClientOptions>;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface FleetRun {
  /** In endpoint index order. */
  readonly results: BootstrapRunResult[];
  readonly elapsedMs: number;
}

export async function runFleet(options: FleetOptions): Promise<FleetRun> {
  const { count, versions } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer');
  if (versions.length === 0) throw new RangeError('versions must name at least one version');
  const concurrency = Math.max(1, Math.min(Math.floor(options.concurrency), count));
  const results: BootstrapRunResult[] = new Array<BootstrapRunResult>(count);
  const started = performance.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const version = versions[index % versions.length]!;
      const client = new SimulatedClient({
        endpoint: `${options.endpointPrefix}-${index}`,
        version,
        bootstrapServer: options.bootstrapServer,
        ...(options.register === undefined ? {} : { register: options.register }),
        ...(options.useBootstrapPack === undefined ? {} : { useBootstrapPack: options.useBootstrapPack }),
        ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
        ...options.clientOptions?.(index, version),
      });
      try {
        results[index] = await client.run();
      } finally {
        await client.close();
      }
      done += 1;
      options.onProgress?.(done, count);
    }
  };
  await Promise.all(Array.from({ length: count === 0 ? 0 : concurrency }, worker));
  return { results, elapsedMs: performance.now() - started };
}
