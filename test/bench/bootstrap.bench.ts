/**
 * `npm run bench`: client-initiated bootstraps per second and latency per client version, at
 * concurrency 1, 50 and 500, against the local server on loopback (NoSec, dynalite in memory).
 * Prints a table; paste it into docs/performance.md with the machine it ran on.
 */
import { cpus } from 'node:os';
import { startLocalServer } from '../../server/local-server.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import { runFleet } from '../../simulator/fleet.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import type { ClientVersion } from '../../simulator/client.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2000);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,50,500').split(',').map(Number);
const VERSIONS: ClientVersion[] = ['1.0', '1.1', '1.2'];

const lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
const server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, rateLimit: { perSecond: 1e9, burst: 1e9 } });
const profile: Profile = {
  name: 'bench',
  servers: [{ shortServerId: 101, uri: `coap://127.0.0.1:${lwm2m.port}`, securityMode: 'nosec', credentialSource: 'profile', lifetime: 300, binding: 'U', notificationStoring: false }],
  acl: [],
  deletes: ['/0', '/1'],
  reads: [],
  discover: true,
};
await server.store.putProfile(profile);
const port = server.gateway.coap.address('IPv4')!.port;

console.log(`# bootstrap bench: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
console.log('| client | concurrency | bootstraps | per second | p50 ms | p99 ms | failed |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let round = 0;
for (const version of VERSIONS) {
  for (const concurrency of CONCURRENCIES) {
    // Concurrency 1 is a latency figure; fewer clients keep the run short.
    const count = concurrency === 1 ? Math.min(CLIENTS, 300) : CLIENTS;
    const prefix = `bench${round++}-${version}`;
    const devices: DeviceEntry[] = Array.from({ length: count }, (_, index) => ({
      endpoint: `${prefix}-${index}`, profile: 'bench', identities: {}, serverCredentials: {}, oscore: {}, overrides: {},
    }));
    await server.store.putDevices(devices);
    const run = await runFleet({ count, concurrency, versions: [version], endpointPrefix: prefix, bootstrapServer: { host: '127.0.0.1', port }, register: false });
    const times = run.results.filter((result) => result.ok).map((result) => result.bootstrapMs).sort((a, b) => a - b);
    const failed = run.results.length - times.length;
    const at = (q: number): string => (times.length === 0 ? '-' : times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!.toFixed(1));
    const method = version === '1.2' ? '1.2 bspack' : version === '1.1' ? '1.1 SenML' : '1.0 TLV';
    console.log(`| ${method} | ${concurrency} | ${run.results.length} | ${Math.round((times.length * 1000) / run.elapsedMs)} | ${at(0.5)} | ${at(0.99)} | ${failed} |`);
  }
}
await server.close();
await lwm2m.close();
