/**
 * `npm run bench`: client-initiated bootstraps per second and latency per client version, at
 * concurrency 1, 50 and 500, against the local server on loopback (dynalite in memory on its own worker thread), over
 * plain CoAP (NoSec) and over coaps (DTLS 1.2 PSK, a new session per client, `ep` taken from the
 * identity), plus DTLS handshakes per second alone.
 * The simulated fleet runs on a worker thread (fleet-worker.ts), so the server's event loop
 * carries only the server. Prints a Markdown table and the machine; docs/performance.md holds
 * the last run.
 *
 * Environment: BENCH_CLIENTS (bootstraps per row at concurrency > 1, default 4000),
 * BENCH_LATENCY_CLIENTS (at concurrency 1, default 300), BENCH_CONCURRENCY (default 1,50,500),
 * BENCH_VERSIONS (default 1.0,1.1,1.2), BENCH_TRANSPORTS (default coap,coaps), BENCH_WARMUP (bootstraps before the first row, default 1000).
 */
import { cpus, totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { startLocalServer } from '../../server/local-server.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import type { ClientVersion } from '../../simulator/client.ts';
import { benchPsk } from './bench-psk.ts';
import type { FleetJob, FleetReport } from './fleet-worker.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4000);
const LATENCY_CLIENTS = Number(process.env.BENCH_LATENCY_CLIENTS ?? 300);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,50,500').split(',').map(Number);
const VERSIONS = (process.env.BENCH_VERSIONS ?? '1.0,1.1,1.2').split(',') as ClientVersion[];
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'coap,coaps').split(',') as ('coap' | 'coaps')[];
const METHOD: Readonly<Record<ClientVersion, string>> = { '1.0': '1.0 TLV', '1.1': '1.1 SenML', '1.2': '1.2 bspack' };

const lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
const server = await startLocalServer({ port: 0, coapsPort: 0, host4: '127.0.0.1', host6: false, rateLimit: { perSecond: 1e9, burst: 1e9 } });
const profile: Profile = {
  name: 'bench',
  servers: [{ shortServerId: 101, uri: `coap://127.0.0.1:${lwm2m.port}`, securityMode: 'nosec', credentialSource: 'profile', lifetime: 300, binding: 'U', notificationStoring: false }],
  acl: [],
  deletes: ['/0', '/1'],
  reads: [],
  discover: true,
};
await server.store.putProfile(profile);
const ports = { coap: server.gateway.coap.address('IPv4')!.port, coaps: server.gateway.coaps!.address('IPv4')!.port };

function runInWorker(job: FleetJob): Promise<FleetReport> {
  // Node 20 does not carry `--import tsx` into workers, so the entry is a one-line script that
  // registers tsx there before importing the TypeScript worker.
  const entry = new URL('./fleet-worker.ts', import.meta.url).href;
  const script = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(script, { eval: true, workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: FleetReport) => resolve(report));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`fleet worker exited with ${code} before reporting`)));
  });
}

let round = 0;
async function bench(version: ClientVersion, count: number, concurrency: number, transport: 'coap' | 'coaps', handshakeOnly = false): Promise<FleetReport & { serverBusy: number; flushMs: number }> {
  const endpointPrefix = `bench${round++}-${version.replace('.', '')}`;
  const devices: DeviceEntry[] = Array.from({ length: count }, (_, index) => {
    const endpoint = `${endpointPrefix}-${index}`;
    const psk = benchPsk(endpoint);
    return {
      endpoint, profile: 'bench', identities: {}, serverCredentials: {}, oscore: {}, overrides: {},
      ...(transport === 'coaps' && { bootstrapCredentials: { securityMode: 'psk' as const, identity: psk.identity, secretKey: Buffer.from(psk.key).toString('hex') } }),
    };
  });
  await server.store.putDevices(devices);
  await server.flushOutcomes();
  const loopBefore = performance.eventLoopUtilization();
  const report = await runInWorker({ count, concurrency, version, endpointPrefix, port: ports[transport], transport, handshakeOnly });
  const busy = performance.eventLoopUtilization(loopBefore).utilization;
  // Outcomes are written behind; a row is done when they are in the table.
  const flushStarted = performance.now();
  await server.flushOutcomes();
  return { ...report, serverBusy: busy, flushMs: performance.now() - flushStarted };
}

const cpu = cpus();
console.log(`Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`);
console.log(`Command: npm run bench (BENCH_CLIENTS=${CLIENTS}, BENCH_LATENCY_CLIENTS=${LATENCY_CLIENTS}, BENCH_WARMUP=${WARMUP})`);
// JIT and socket buffers warm up on a throwaway run, so the first row is not penalised.
if (WARMUP > 0) await bench('1.1', WARMUP, 50, 'coap');
console.log('');
console.log('| transport | client | concurrency | runs | per second | p50 ms | p99 ms | failed | outcomes in table /s | server loop busy | fleet loop busy |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const errors: string[] = [];
// Rows: each version over each transport, then DTLS handshakes alone.
const rows = [
  ...TRANSPORTS.flatMap((transport) => VERSIONS.map((version) => ({ transport, version, label: METHOD[version], handshakeOnly: false }))),
  ...(TRANSPORTS.includes('coaps') ? [{ transport: 'coaps' as const, version: '1.2' as ClientVersion, label: 'DTLS handshake only', handshakeOnly: true }] : []),
];
for (const { transport, version, label, handshakeOnly } of rows) {
  for (const concurrency of CONCURRENCIES) {
    // Concurrency 1 is a latency figure: each bootstrap waits for the one before.
    const count = concurrency === 1 ? LATENCY_CLIENTS : CLIENTS;
    const report = await bench(version, count, concurrency, transport, handshakeOnly);
    const times = report.times.sort((a, b) => a - b);
    const at = (q: number): string => (times.length === 0 ? '-' : times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!.toFixed(1));
    const perSecond = Math.round((times.length * 1000) / report.elapsedMs);
    const durable = Math.round((times.length * 1000) / (report.elapsedMs + report.flushMs));
    const percent = (share: number): string => `${Math.round(share * 100)}%`;
    console.log(
      `| ${transport} | ${label} | ${concurrency} | ${count} | ${perSecond.toLocaleString('en-US')} | ${at(0.5)} | ${at(0.99)} | ${report.failed} | ${durable.toLocaleString('en-US')} | ${percent(report.serverBusy)} | ${percent(report.busy)} |`,
    );
    if (report.firstError !== undefined) errors.push(`${transport} ${label} at ${concurrency}: ${report.firstError}`);
  }
}
const closing = performance.now();
await server.close();
console.log('');
console.log(`Server close (outcomes flushed to the store): ${Math.round(performance.now() - closing)} ms`);
for (const error of errors) console.log(`first failure, ${error}`);
await lwm2m.close();
