/**
 * The simulated fleet of `npm run bench`, on its own thread: the clients' CPU (CoAP, content
 * decoding, their object stores) must not share the event loop of the server it measures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ClientVersion } from '../../simulator/client.ts';
import { runFleet } from '../../simulator/fleet.ts';

export interface FleetJob {
  readonly count: number;
  readonly concurrency: number;
  readonly version: ClientVersion;
  readonly endpointPrefix: string;
  readonly port: number;
}

export interface FleetReport {
  /** Bootstrap times of the clients that succeeded, in ms. */
  readonly times: number[];
  readonly failed: number;
  /** The first failure's message, to say why a row has failures. */
  readonly firstError?: string;
  readonly elapsedMs: number;
  /** Share of the run the fleet's thread was busy (event loop utilization). */
  readonly busy: number;
}

const job = workerData as FleetJob;
const loopBefore = performance.eventLoopUtilization();
const run = await runFleet({
  count: job.count,
  concurrency: job.concurrency,
  versions: [job.version],
  endpointPrefix: job.endpointPrefix,
  bootstrapServer: { host: '127.0.0.1', port: job.port },
  register: false,
});
const ok = run.results.filter((result) => result.ok);
const firstError = run.results.find((result) => !result.ok)?.error;
const report: FleetReport = {
  times: ok.map((result) => result.bootstrapMs),
  failed: run.results.length - ok.length,
  ...(firstError !== undefined && { firstError }),
  elapsedMs: run.elapsedMs,
  busy: performance.eventLoopUtilization(loopBefore).utilization,
};
parentPort?.postMessage(report);
