/**
 * The simulated fleet of `npm run bench`, on its own thread: the clients' CPU (CoAP, content
 * decoding, their object stores) must not share the event loop of the server it measures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ClientVersion } from '../../simulator/client.ts';
import { DtlsLink } from '../../simulator/dtls-link.ts';
import { runFleet } from '../../simulator/fleet.ts';
import { benchPsk } from './bench-psk.ts';

export interface FleetJob {
  readonly count: number;
  readonly concurrency: number;
  readonly version: ClientVersion;
  readonly endpointPrefix: string;
  readonly port: number;
  /** coaps: each client opens its own DTLS session with its device's PSK, leaving `ep` out. */
  readonly transport: 'coap' | 'coaps';
  /** Only the DTLS handshake (then close_notify), to measure handshakes per second. */
  readonly handshakeOnly?: boolean;
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
const server = { host: '127.0.0.1', port: job.port };
const run = job.handshakeOnly === true
  ? await handshakes()
  : await runFleet({
      count: job.count,
      concurrency: job.concurrency,
      versions: [job.version],
      endpointPrefix: job.endpointPrefix,
      bootstrapServer: server,
      register: false,
      ...(job.transport === 'coaps' && { clientOptions: (index: number) => ({ bootstrapPsk: benchPsk(`${job.endpointPrefix}-${index}`), omitEndpointName: true }) }),
    });

/** Handshake-only runs, in the shape runFleet reports. */
async function handshakes(): Promise<{ results: { ok: boolean; bootstrapMs: number; error?: string }[]; elapsedMs: number }> {
  const results: { ok: boolean; bootstrapMs: number; error?: string }[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < job.count) {
      const index = next++;
      const began = performance.now();
      try {
        const link = await DtlsLink.connect({ server, ...benchPsk(`${job.endpointPrefix}-${index}`) });
        results.push({ ok: true, bootstrapMs: performance.now() - began });
        await link.close();
      } catch (error) {
        results.push({ ok: false, bootstrapMs: performance.now() - began, error: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.count) }, worker));
  return { results, elapsedMs: performance.now() - started };
}
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
