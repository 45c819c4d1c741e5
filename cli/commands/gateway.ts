import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IClientOptions } from 'mqtt';
import { isGatewayTopicId } from '../../server/aws/topics.ts';
import { BootstrapGateway, type GatewayLogEvent } from '../../server/gateway/bootstrap-gateway.ts';
import { MqttBackendChannel, type MqttChannelLogEvent } from '../../server/gateway/mqtt-backend-channel.ts';
import { PskCache, storePskSource, type PskSource } from '../../server/gateway/psk-cache.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { InputError, UsageError } from '../usage.ts';
import type { CommandIO } from './codec.ts';
import { describeGatewayEvent, parsePort } from '../gateway-log.ts';

/**
 * Where the container (the ECS task definition) configures the gateway. The file variables
 * name files; the *_PEM ones carry the PEM text itself, as ECS injects a Secrets Manager value.
 */
export const GATEWAY_ENV = {
  mqttUrl: 'LWM2M_BS_MQTT_URL',
  gatewayId: 'LWM2M_BS_GATEWAY_ID',
  cert: 'LWM2M_BS_MQTT_CERT',
  key: 'LWM2M_BS_MQTT_KEY',
  ca: 'LWM2M_BS_MQTT_CA',
  certPem: 'LWM2M_BS_MQTT_CERT_PEM',
  keyPem: 'LWM2M_BS_MQTT_KEY_PEM',
  /** The bootstrap table, where coaps finds PSKs (one Query on its PSK identity index per identity). */
  table: 'LWM2M_BS_TABLE',
} as const;

/** How often the health port follows the channel's state, on top of its connect/offline events. */
const HEALTH_SYNC_MS = 250;

/**
 * `lwm2m-bs gateway`: the CoAP face on UDP, with the backend behind MQTT (AWS IoT Core, where
 * the client id must be the thing name, which is the gateway id). A TCP health port answers
 * only while the MQTT channel is up, so a load balancer sends devices elsewhere when this
 * gateway could only answer 5.03. Runs until SIGINT or SIGTERM.
 *
 * With a table, coaps (DTLS with PSK) is served too. The handshake needs the key before any
 * CoAP request exists, so the gateway reads it from the table itself: one index Query per
 * identity, cached, instead of a round trip through IoT Core and Lambda per handshake; the
 * purges broadcast the identities they revoke and the cache drops each at once. The
 * DynamoDB client takes region, credentials and endpoint from the standard AWS environment
 * (the ECS task role; AWS_ENDPOINT_URL_DYNAMODB for a local stand-in).
 */
export async function gatewayCommand(args: string[], io: CommandIO, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'mqtt-url': { type: 'string' },
      'gateway-id': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      port: { type: 'string', short: 'p', default: '5683' },
      'coaps-port': { type: 'string', default: '5684' },
      'no-coaps': { type: 'boolean', default: false },
      table: { type: 'string' },
      bind4: { type: 'string' },
      bind6: { type: 'string' },
      'no-ipv6': { type: 'boolean', default: false },
      'health-port': { type: 'string', default: '8080' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const url = parseMqttUrl(required(values['mqtt-url'] ?? env[GATEWAY_ENV.mqttUrl], '--mqtt-url', GATEWAY_ENV.mqttUrl));
  const gatewayId = required(values['gateway-id'] ?? env[GATEWAY_ENV.gatewayId], '--gateway-id', GATEWAY_ENV.gatewayId);
  // The gateway id is also its IoT thing name and MQTT client id, which the policy pins: thing
  // names allow no ".", so a dotted id would only fail later, at connect time.
  if (!isGatewayTopicId(gatewayId) || gatewayId.includes('.')) throw new UsageError('--gateway-id must be 1 to 64 of A-Z a-z 0-9 _ : - (it is the IoT thing name)');
  const port = parsePort(values.port, '--port');
  const coapsPort = parsePort(values['coaps-port'], '--coaps-port');
  const tableName = nonEmpty(values.table ?? env[GATEWAY_ENV.table]);
  const coapsOff: CoapsOff | undefined = values['no-coaps'] ? 'no-coaps' : tableName === undefined ? 'no-table' : undefined;
  const healthPort = parsePort(values['health-port'], '--health-port');
  const tls = await readTlsOptions(values, env);

  const print = (line: string): void => io.stdout(`${line}\n`);
  const emit = (event: GatewayLogEvent | MqttLogLine | PskLogLine | StartedLine): void =>
    print(values.json ? JSON.stringify({ time: new Date().toISOString(), ...event }) : describeEvent(event));
  const mqttLog = mqttLogger(emit);

  const dynamo = coapsOff === undefined ? new DynamoDBClient({}) : undefined;
  const psk = dynamo !== undefined && tableName !== undefined ? new PskCache(loggedPskSource(storePskSource(new DynamoDbBootstrapStore({ client: dynamo, tableName })), emit)) : undefined;
  let channel: MqttBackendChannel;
  try {
    // With coaps, the channel also keeps the PSK cache in step with the purges' revocations.
    channel = await MqttBackendChannel.connect({ url: url.href, gatewayId, clientOptions: tls, log: mqttLog, ...(psk !== undefined && { pskCache: psk }) });
  } catch (error) {
    dynamo?.destroy();
    throw new InputError(`cannot connect to ${url.redacted} as ${gatewayId}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const coap = {
    port,
    ...(values.bind4 !== undefined && { host4: values.bind4 }),
    ...(values['no-ipv6'] ? { host6: false as const } : values.bind6 !== undefined ? { host6: values.bind6 } : {}),
  };
  const coaps = psk !== undefined ? { ...coap, port: coapsPort, psk } : undefined;
  const gateway = await bound(
    (failed) => (coaps !== undefined && failed === coapsPort && failed !== port ? `coaps UDP port ${coapsPort}` : `UDP port ${port}`),
    () => BootstrapGateway.start({ gatewayId, backend: channel, coap, ...(coaps !== undefined && { coaps }), log: emit }),
  ).catch(async (error: unknown) => {
    await channel.close();
    dynamo?.destroy();
    throw error;
  });
  const health = await bound(() => `health TCP port ${healthPort}`, () => HealthPort.open(healthPort)).catch(async (error: unknown) => {
    await gateway.close();
    await channel.close();
    dynamo?.destroy();
    throw error;
  });

  const addresses = (endpoint: BootstrapGateway['coap'] | undefined): string[] =>
    (['IPv4', 'IPv6'] as const).flatMap((family) => {
      const address = endpoint?.address(family);
      return address ? [family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`] : [];
    });
  emit({
    event: 'gateway-started',
    gatewayId,
    mqtt: url.redacted,
    udp: addresses(gateway.coap),
    coaps: addresses(gateway.coaps),
    ...(coapsOff !== undefined && { coapsOff }),
    ...(tableName !== undefined && coapsOff === undefined && { table: tableName }),
    healthPort: health.port,
  });

  const follow = (): void => health.follow(channel.connected);
  mqttLog.onChange = follow;
  const timer = setInterval(follow, HEALTH_SYNC_MS);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(timer);
  mqttLog.onChange = undefined;
  print(values.json ? JSON.stringify({ time: new Date().toISOString(), event: 'gateway-stopping' }) : 'lwm2m-bs: stopping; waiting for running sessions to record their outcome');
  // Unhealthy first, so the balancer stops sending; outcomes still need the channel.
  await health.close();
  await gateway.close();
  await channel.close();
  dynamo?.destroy();
}

interface TlsFiles {
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly ca?: string | undefined;
}

/**
 * The client certificate, its key and the CA, from files (flags, else the file variables), or
 * the certificate and key as PEM text in the environment. Without `ca` Node's own roots apply,
 * which include Amazon Root CA 1, the root of IoT Core's ATS endpoints.
 */
async function readTlsOptions(flags: TlsFiles, env: NodeJS.ProcessEnv): Promise<IClientOptions> {
  const file = (flag: 'cert' | 'key' | 'ca', variable: string): string | undefined => flags[flag] ?? nonEmpty(env[variable]);
  const certFile = file('cert', GATEWAY_ENV.cert);
  const keyFile = file('key', GATEWAY_ENV.key);
  const caFile = file('ca', GATEWAY_ENV.ca);
  const cert = certFile !== undefined ? await readPem(certFile, '--cert') : nonEmpty(env[GATEWAY_ENV.certPem]);
  const key = keyFile !== undefined ? await readPem(keyFile, '--key') : nonEmpty(env[GATEWAY_ENV.keyPem]);
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together: a client certificate needs its private key');
  const ca = caFile !== undefined ? await readPem(caFile, '--ca') : undefined;
  return { ...(cert !== undefined && { cert }), ...(key !== undefined && { key }), ...(ca !== undefined && { ca }) };
}

/** The message names the file and the reason, never a byte of what it holds. */
async function readPem(path: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the ${flag} file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!text.includes('-----BEGIN ')) throw new InputError(`the ${flag} file ${path} is not PEM`);
  return text;
}

interface MqttUrl {
  readonly href: string;
  /** Without user and password, for logs. */
  readonly redacted: string;
}

function parseMqttUrl(text: string): MqttUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('--mqtt-url must be a URL such as mqtts://<endpoint>-ats.iot.<region>.amazonaws.com:8883');
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') throw new UsageError(`--mqtt-url must be mqtt:// or mqtts://, got ${url.protocol}//`);
  const redacted = new URL(url.href);
  redacted.username = '';
  redacted.password = '';
  return { href: url.href, redacted: redacted.href.replace(/\/$/, '') };
}

function required(value: string | undefined, flag: string, variable: string): string {
  const text = nonEmpty(value);
  if (text === undefined) throw new UsageError(`${flag} is required (or set ${variable})`);
  return text;
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);


/**
 * Turns a port an operator can free or change into one line. `what` names the port from the
 * one the error reports, which tells the coaps port from plain CoAP's.
 */
async function bound<T>(what: (failedPort: number | undefined) => string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const { code, port } = error as NodeJS.ErrnoException & { port?: unknown };
    const failed = what(typeof port === 'number' ? port : undefined);
    if (code === 'EADDRINUSE') throw new InputError(`${failed} is already in use`);
    if (code === 'EACCES') throw new InputError(`not allowed to bind ${failed}`);
    if (code === 'EADDRNOTAVAIL') throw new InputError(`cannot bind ${failed}: no such local address`);
    if (code === 'EAFNOSUPPORT') throw new InputError(`cannot bind ${failed}: no IPv6 here (use --no-ipv6)`);
    throw error;
  }
}

/**
 * A TCP port that accepts only while the gateway can serve: a load balancer's TCP check sees a
 * completed handshake, `curl` sees `200 ok`. Closed (connections refused) while the channel is
 * down. The port stays the one first bound, also when that was port 0.
 */
class HealthPort {
  #server: Server | undefined;
  #queue: Promise<void> = Promise.resolve();
  #wanted = true;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async open(port: number): Promise<HealthPort> {
    const server = await listen(port);
    return new HealthPort(server, (server.address() as AddressInfo).port);
  }

  /** Opens or closes the port to match `up`; a failed reopen is retried on the next call. */
  follow(up: boolean): void {
    if (up === this.#wanted && (this.#server !== undefined) === up) return;
    this.#wanted = up;
    this.#queue = this.#queue.then(async () => {
      if (this.#wanted && this.#server === undefined) {
        this.#server = await listen(this.port).catch(() => undefined);
      } else if (!this.#wanted && this.#server !== undefined) {
        const server = this.#server;
        this.#server = undefined;
        await closeServer(server);
      }
    });
  }

  async close(): Promise<void> {
    this.follow(false);
    await this.#queue;
  }
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';

function listen(port: number): Promise<Server> {
  const server = createServer((socket) => {
    // A TCP check resets right after the handshake; nothing to report.
    socket.on('error', () => undefined);
    socket.setTimeout(2_000, () => socket.destroy());
    socket.end(OK);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
  });
}

type MqttLogLine =
  | { readonly event: 'mqtt-connected' | 'mqtt-offline' }
  | { readonly event: 'mqtt-error'; readonly message: string }
  | { readonly event: 'mqtt-downlink-dropped'; readonly reason: string }
  | { readonly event: 'psk-revoked'; readonly identity: string }
  | { readonly event: 'psk-revocation-dropped'; readonly reason: string }
  | { readonly event: 'psk-cache-cleared' };

/** Why coaps is not served: asked so, or no table to find keys in. */
type CoapsOff = 'no-coaps' | 'no-table';

interface StartedLine {
  readonly event: 'gateway-started';
  readonly gatewayId: string;
  readonly mqtt: string;
  readonly udp: readonly string[];
  /** Empty when coaps is off, and then `coapsOff` says why. */
  readonly coaps: readonly string[];
  readonly coapsOff?: CoapsOff;
  readonly table?: string;
  readonly healthPort: number;
}

interface PskLogLine {
  readonly event: 'psk-lookup-error';
  readonly message: string;
}

/**
 * A failed key lookup only fails that handshake, silently to the DTLS layer; an operator must
 * still see why (a missing IAM grant, throttling). Logged once per distinct message, as a
 * client retrying its handshake would repeat it. SDK messages name the action and resource,
 * never the identity or a key.
 */
function loggedPskSource(source: PskSource, emit: (line: PskLogLine) => void): PskSource {
  let lastError: string | undefined;
  return {
    async lookup(identity) {
      try {
        const psk = await source.lookup(identity);
        lastError = undefined;
        return psk;
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : 'lookup failed';
        if (message !== lastError) emit({ event: 'psk-lookup-error', message });
        lastError = message;
        throw error;
      }
    },
  };
}

/**
 * The channel's events as log lines, one per change: mqtt.js retries every second while the
 * broker is away, which would otherwise repeat the same two lines all night.
 */
function mqttLogger(emit: (line: MqttLogLine) => void): ((event: MqttChannelLogEvent) => void) & { onChange: (() => void) | undefined } {
  let up = true;
  let lastError: string | undefined;
  const log = Object.assign(
    (event: MqttChannelLogEvent): void => {
      switch (event.event) {
        case 'connected':
          if (!up) emit({ event: 'mqtt-connected' });
          up = true;
          lastError = undefined;
          break;
        case 'offline':
        case 'reconnecting':
          if (up) emit({ event: 'mqtt-offline' });
          up = false;
          break;
        case 'error':
          if (event.message !== lastError) emit({ event: 'mqtt-error', message: event.message });
          lastError = event.message;
          break;
        case 'downlink-dropped':
          emit({ event: 'mqtt-downlink-dropped', reason: event.reason });
          break;
        case 'psk-revoked':
          emit({ event: 'psk-revoked', identity: event.identity });
          break;
        case 'revocation-dropped':
          emit({ event: 'psk-revocation-dropped', reason: event.reason });
          break;
        case 'psk-cache-cleared':
          emit({ event: 'psk-cache-cleared' });
          break;
      }
      log.onChange?.();
    },
    { onChange: undefined as (() => void) | undefined },
  );
  return log;
}

function describeEvent(event: GatewayLogEvent | MqttLogLine | PskLogLine | StartedLine): string {
  switch (event.event) {
    case 'gateway-started': {
      const list = (addresses: readonly string[]): string => addresses.map((address) => `udp ${address}`).join(' and ');
      const coaps =
        event.coapsOff === 'no-coaps' ? 'coaps off (--no-coaps)'
        : event.coapsOff === 'no-table' ? `coaps off (it needs the table: --table or ${GATEWAY_ENV.table})`
        : `coaps (DTLS 1.2, PSK from table ${event.table ?? '?'}) on ${list(event.coaps)}`;
      return `lwm2m-bs: gateway ${event.gatewayId} connected to ${event.mqtt}; listening on ${list(event.udp)}; ${coaps}; health on tcp port ${event.healthPort} while connected`;
    }
    case 'psk-lookup-error':
      return `coaps: PSK lookup failed: ${event.message}`;
    case 'bootstrap-started':
    case 'bootstrap-ended':
    case 'bootstrap-rejected':
    case 'dtls-handshake-failed':
    case 'error':
      return describeGatewayEvent(event);
    case 'mqtt-connected':
      return 'mqtt: connected';
    case 'mqtt-offline':
      return 'mqtt: connection lost; reconnecting (health port closed)';
    case 'mqtt-error':
      return `mqtt: ${event.message}`;
    case 'mqtt-downlink-dropped':
      return `mqtt: downlink dropped: ${event.reason}`;
    case 'psk-revoked':
      return `coaps: PSK identity ${JSON.stringify(event.identity)} revoked; forgotten`;
    case 'psk-revocation-dropped':
      return `mqtt: PSK revocation ignored: ${event.reason}`;
    case 'psk-cache-cleared':
      return 'coaps: PSK cache cleared (revocations sent while disconnected were missed)';
  }
}
