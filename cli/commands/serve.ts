import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startLocalServer } from '../../server/local-server.ts';
import { parseSeedConfig, type SeedConfig } from '../../server/seed-config.ts';
import type { GatewayLogEvent } from '../../server/gateway/bootstrap-gateway.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { resolveDataDir } from '../data-dir.ts';
import { InputError } from '../usage.ts';
import { DataDirInUseError } from '../../server/store/data-dir-lock.ts';
import { SeedConfigError } from '../../server/seed-config.ts';
import type { CommandIO } from './codec.ts';
import { describeGatewayEvent, parsePort } from '../gateway-log.ts';
import { DEFAULT_ATTACH_PORT } from '../../server/lifecycle/attach-intake.ts';

/**
 * `lwm2m-bs serve`: the bootstrap server on UDP with its store under the data directory.
 * Runs until SIGINT or SIGTERM, then lets running sessions record their outcome.
 */
export async function serveCommand(args: string[], io: CommandIO): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', short: 'p', default: '5683' },
      'coaps-port': { type: 'string', default: '5684' },
      'no-coaps': { type: 'boolean', default: false },
      'attach-port': { type: 'string', default: String(DEFAULT_ATTACH_PORT) },
      'no-attach': { type: 'boolean', default: false },
      'data-dir': { type: 'string', short: 'd' },
      config: { type: 'string', short: 'c' },
      bind4: { type: 'string' },
      bind6: { type: 'string' },
      'no-ipv6': { type: 'boolean', default: false },
      'demo-server': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = parsePort(values.port, '--port');
  const coapsPort = values['no-coaps'] ? false : parsePort(values['coaps-port'], '--coaps-port');
  const attachPort = values['no-attach'] ? false : parsePort(values['attach-port'], '--attach-port');
  const demoPort = values['demo-server'] === undefined ? undefined : parsePort(values['demo-server'], '--demo-server');
  const dataDir = resolveDataDir(values['data-dir']);
  let seed: SeedConfig | undefined;
  if (values.config !== undefined) seed = await readSeed(values.config);

  const print = (line: string): void => io.stdout(`${line}\n`);
  const log = (event: GatewayLogEvent): void => print(values.json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : describeGatewayEvent(event));
  const lifecycleLog = (line: string): void => print(values.json ? JSON.stringify({ time: new Date().toISOString(), event: 'lifecycle', message: line }) : line);

  const demo = demoPort === undefined ? undefined : await listening('demo server', demoPort, () => TestLwm2mServer.start({ port: demoPort, host: '0.0.0.0' }));
  const server = await listening('bootstrap server', port, () => startLocalServer({
    dataDir,
    port,
    coapsPort,
    attachPort,
    ...(values.bind4 !== undefined && { host4: values.bind4 }),
    ...(values['no-ipv6'] ? { host6: false } : values.bind6 !== undefined ? { host6: values.bind6 } : {}),
    ...(seed !== undefined && { seed }),
    log,
    lifecycleLog,
  }), attachPort === false ? undefined : attachPort).catch(async (error: unknown) => {
    await demo?.close();
    throw error;
  });
  const v4 = server.gateway.coap.address('IPv4');
  const v6 = server.gateway.coap.address('IPv6');
  print(`lwm2m-bs: bootstrap server listening on ${[v4 && `udp ${v4.address}:${v4.port}`, v6 && `udp [${v6.address}]:${v6.port}`].filter(Boolean).join(' and ')}`);
  const s4 = server.gateway.coaps?.address('IPv4');
  const s6 = server.gateway.coaps?.address('IPv6');
  if (s4 || s6) print(`lwm2m-bs: coaps (DTLS 1.2, PSK) on ${[s4 && `udp ${s4.address}:${s4.port}`, s6 && `udp [${s6.address}]:${s6.port}`].filter(Boolean).join(' and ')}`);
  if (server.attachUrl !== undefined) print(`lwm2m-bs: carrier attach events to POST ${server.attachUrl}`);
  print(`lwm2m-bs: data directory ${dataDir}${seed ? `, loaded ${seed.profiles.length} profiles and ${seed.devices.length} devices from ${values.config}` : ''}`);
  if (demo) print(`lwm2m-bs: demo LwM2M server (registrations only) on udp 0.0.0.0:${demo.port}`);
  const stopping = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const registrationsPrinted = new Set<string>();
  const poll = demo
    ? setInterval(() => {
        for (const registration of demo.registrations()) {
          if (registrationsPrinted.has(registration.location)) continue;
          registrationsPrinted.add(registration.location);
          print(`registered: ${registration.endpoint} (LwM2M ${registration.version ?? '?'}, lifetime ${registration.lifetime ?? '?'} s) at /${registration.location}`);
        }
      }, 200)
    : undefined;
  await stopping;
  if (poll) clearInterval(poll);
  print('lwm2m-bs: stopping; waiting for running sessions to record their outcome');
  await server.close();
  await demo?.close();
}

async function readSeed(file: string): Promise<SeedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new InputError(`${file} is not valid JSON`);
  }
  try {
    return parseSeedConfig(document);
  } catch (error) {
    if (error instanceof SeedConfigError) throw new InputError(`${file}: ${error.message}`);
    throw error;
  }
}

/** Turns the failures an operator can fix (port taken, data directory in use) into one line. */
async function listening<T>(what: string, port: number, start: () => Promise<T>, tcpPort?: number): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof DataDirInUseError) throw new InputError(error.message);
    const { code, port: failed } = error as NodeJS.ErrnoException & { port?: number };
    // The error names the port it failed on: the coaps port when plain CoAP's was free.
    const taken = typeof failed === 'number' && failed !== 0 ? failed : port;
    // The attach intake is the one TCP listener: its error comes from node:http's listen.
    const protocol = tcpPort !== undefined && (error as { syscall?: string }).syscall === 'listen' ? `TCP port ${tcpPort}` : `UDP port ${taken}`;
    if (code === 'EADDRINUSE') throw new InputError(`${what}: ${protocol} is already in use${protocol.startsWith('TCP') ? ' (--attach-port, or --no-attach)' : ''}`);
    if (code === 'EACCES') throw new InputError(`${what}: not allowed to bind ${protocol}`);
    throw error;
  }
}
