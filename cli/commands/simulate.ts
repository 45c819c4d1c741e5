import { parseArgs } from 'node:util';
import { startLocalServer } from '../../server/local-server.ts';
import { openLocalStore } from '../../server/store/local-store.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { contentFormatName } from '../../shared/content/format.ts';
import { runFleet } from '../../simulator/fleet.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import type { BootstrapRunResult, ClientVersion } from '../../simulator/client.ts';
import { resolveDataDir } from '../data-dir.ts';
import { UsageError } from '../usage.ts';
import type { CommandIO } from './codec.ts';

const VERSIONS: readonly ClientVersion[] = ['1.0', '1.1', '1.2'];

/**
 * `lwm2m-bs simulate`: N simulated clients bootstrap and register. Without `--server` it is
 * self-contained (an in-memory bootstrap server and a test LwM2M server on ephemeral ports);
 * with `--server host:port` it targets a running `lwm2m-bs serve`, adding the simulated
 * devices through its data directory first.
 */
export async function simulateCommand(args: string[], io: CommandIO): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      clients: { type: 'string', short: 'n', default: '10' },
      concurrency: { type: 'string', default: '10' },
      versions: { type: 'string', default: '1.0,1.1,1.2' },
      server: { type: 'string' },
      'data-dir': { type: 'string', short: 'd' },
      'lwm2m-port': { type: 'string', default: '0' },
      prefix: { type: 'string', default: 'sim' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const count = positiveInteger(values.clients, '--clients');
  const concurrency = positiveInteger(values.concurrency, '--concurrency');
  const versions = values.versions.split(',').map((version) => {
    if (!VERSIONS.includes(version as ClientVersion)) throw new UsageError(`--versions takes ${VERSIONS.join(', ')}; got "${version}"`);
    return version as ClientVersion;
  });
  const lwm2mPort = Number(values['lwm2m-port']);
  if (!Number.isInteger(lwm2mPort) || lwm2mPort < 0 || lwm2mPort > 65535) throw new UsageError('--lwm2m-port must be a port number');

  const lwm2mServer = await TestLwm2mServer.start({ port: lwm2mPort, host: '127.0.0.1' });
  const profile: Profile = {
    name: 'simulated',
    description: 'written by lwm2m-bs simulate',
    servers: [
      {
        shortServerId: 101,
        uri: `coap://127.0.0.1:${lwm2mServer.port}`,
        securityMode: 'nosec',
        credentialSource: 'profile',
        lifetime: 300,
        binding: 'U',
        notificationStoring: false,
      },
    ],
    acl: [],
    deletes: ['/0', '/1'],
    reads: [],
    discover: true,
  };
  const endpoints = Array.from({ length: count }, (_, index) => `${values.prefix}-${index}`);
  const devices: DeviceEntry[] = endpoints.map((endpoint) => ({ endpoint, profile: profile.name, identities: {}, serverCredentials: {}, oscore: {}, overrides: {} }));

  let target: { host: string; port: number };
  let shutdown: () => Promise<void>;
  if (values.server === undefined) {
    const server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, rateLimit: { perSecond: 1e6, burst: 1e6 } });
    await provision(server.store, profile, devices);
    target = { host: '127.0.0.1', port: server.gateway.coap.address('IPv4')!.port };
    shutdown = () => server.close();
  } else {
    target = parseHostPort(values.server);
    const local = await openLocalStore({ dataDir: resolveDataDir(values['data-dir']) });
    try {
      await provision(local.store, profile, devices);
    } finally {
      await local.close();
    }
    shutdown = async () => undefined;
  }
  const progress = (done: number, total: number): void => {
    if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total} clients done`);
  };
  try {
    const run = await runFleet({ count, concurrency, versions, endpointPrefix: values.prefix, bootstrapServer: target, onProgress: progress });
    if (process.stderr.isTTY) process.stderr.write('\n');
    io.stdout(values.json ? `${JSON.stringify(run.results, null, 2)}\n` : summary(run.results, run.elapsedMs, lwm2mServer));
    const failed = run.results.filter((result) => !result.ok).length;
    if (failed > 0) process.exitCode = 1;
  } finally {
    await shutdown();
    await lwm2mServer.close();
  }
}

async function provision(store: BootstrapStore, profile: Profile, devices: readonly DeviceEntry[]): Promise<void> {
  await store.putProfile(profile);
  const result = await store.putDevices(devices);
  if (result.rejected.length > 0) throw new Error(`could not add simulated devices: ${result.rejected[0]!.reason}`);
}

function summary(results: readonly BootstrapRunResult[], elapsedMs: number, lwm2mServer: TestLwm2mServer): string {
  const lines = ['version  clients  ok  registered  method  formats  p50 ms  p99 ms'];
  for (const version of VERSIONS) {
    const group = results.filter((result) => result.version === version);
    if (group.length === 0) continue;
    const times = group.map((result) => result.bootstrapMs).sort((a, b) => a - b);
    const formats = [...new Set(group.flatMap((result) => result.formatsReceived))].map(contentFormatName).join(',');
    const methods = [...new Set(group.map((result) => result.method))].join(',');
    lines.push(
      [version.padEnd(7), String(group.length).padStart(7), String(group.filter((r) => r.ok).length).padStart(3), String(group.filter((r) => r.registeredAt).length).padStart(10), methods.padStart(6), formats.padStart(8), percentile(times, 0.5).toFixed(1).padStart(6), percentile(times, 0.99).toFixed(1).padStart(6)].join('  '),
    );
  }
  const failures = results.filter((result) => !result.ok).slice(0, 10).map((result) => `  ${result.endpoint}: ${result.error ?? 'failed'}`);
  lines.push(`${results.length} clients in ${(elapsedMs / 1000).toFixed(2)} s; ${lwm2mServer.registrations().length} registrations at the LwM2M server`);
  if (failures.length > 0) lines.push('failures:', ...failures);
  return `${lines.join('\n')}\n`;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return value;
}

function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:coap:\/\/)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!match) throw new UsageError(`--server takes host:port, got "${text}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}
