/**
 * `npm run bench:cost`: what one client-initiated bootstrap costs on AWS, counted through the
 * real handlers, per client version (1.0 TLV, 1.1 SenML, 1.2 Bootstrap-Pack).
 *
 * The path is the deployed one with local stand-ins: a SimulatedClient bootstraps over UDP
 * loopback through the REAL BootstrapGateway and MqttBackendChannel; an in-process aedes broker
 * stands in for IoT Core; a bridge stands in for the topic rule and invokes the REAL
 * gateway-uplink Lambda handler (cost-iot-bridge.ts); the handler's DynamoDB requests go to
 * dynalite (on its own worker thread) and are metered by a middleware on its client
 * (cost-dynamodb-meter.ts). The IoT data-plane Publish and EventBridge PutEvents have no local
 * stand-in: they are mocked with aws-sdk-client-mock and counted. The function's stdout (its
 * Powertools logs and EMF metrics, CloudWatch Logs ingestion) is measured (cost-log-meter.ts).
 * Bootstraps run one at a time so each invocation's duration is its own.
 *
 * Prints a Markdown table (per bootstrap, and USD per million bootstraps at the list prices of
 * cost-prices.ts) and whether the aims of issue 4 are met; docs/cost.md holds the last run.
 *
 * Environment: BENCH_COST_BOOTSTRAPS (per client version, default 200), BENCH_COST_VERSIONS
 * (default 1.0,1.1,1.2), BENCH_COST_WARMUP (bootstraps before counting, versions in turn, default 60),
 * PROFILE_CACHE_TTL_MS (the function's setting; the stack leaves it unset, 0).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, totalmem } from 'node:os';
import { ContentFormat } from '../../shared/content/format.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { BootstrapGateway } from '../../server/gateway/bootstrap-gateway.ts';
import { MqttBackendChannel } from '../../server/gateway/mqtt-backend-channel.ts';
import { localDynamoDbClient, startDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { SimulatedClient, type ClientVersion } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { nosecProfile } from '../e2e/fixtures.ts';
import { DynamoDbMeter, type DynamoDbUsage } from './cost-dynamodb-meter.ts';
import { CostBridge, startCostBroker, type AwsUsage } from './cost-iot-bridge.ts';
import { StdoutLogMeter } from './cost-log-meter.ts';
import { PRICES, PRICES_AS_OF, PRICES_REGION } from './cost-prices.ts';

const BOOTSTRAPS = Number(process.env['BENCH_COST_BOOTSTRAPS'] ?? 200);
const WARMUP = Number(process.env['BENCH_COST_WARMUP'] ?? 60);
const VERSIONS = (process.env['BENCH_COST_VERSIONS'] ?? '1.0,1.1,1.2').split(',') as ClientVersion[];
const LABEL: Readonly<Record<ClientVersion, string>> = { '1.0': '1.0 TLV', '1.1': '1.1 SenML CBOR', '1.2': '1.2 bspack' };
const FORMAT: Readonly<Record<ClientVersion, number | undefined>> = { '1.0': undefined, '1.1': ContentFormat.SENML_CBOR, '1.2': undefined };
const GATEWAY_ID = 'gw-cost';
const TABLE = 'lwm2m-bs-cost';
const AIM = { invocations: 2, dynamoDbRequests: 3, iotMessages: 4 } as const;

/** The uplink function's memory, as the stack sets it (one memorySize for every function). */
function functionMemoryMb(): number {
  const source = readFileSync(new URL('../../infra/constructs/node-function.ts', import.meta.url), 'utf8');
  const match = /memorySize:\s*(\d+)/.exec(source);
  if (match?.[1] === undefined) throw new Error('no memorySize in infra/constructs/node-function.ts');
  return Number(match[1]);
}

/**
 * mqtt.js opens its TCP socket without TCP_NODELAY, so on loopback an uplink written right after
 * the gateway's PUBACK of a downlink waits out the broker's delayed ACK (~40 ms). That is latency,
 * not cost, and would only slow the run: the bench's connection gets TCP_NODELAY.
 */
async function withoutNagle<T>(connect: () => Promise<T>): Promise<T> {
  const original = net.createConnection;
  net.createConnection = ((...args: Parameters<typeof net.createConnection>) => original(...args).setNoDelay(true)) as typeof net.createConnection;
  try {
    return await connect();
  } finally {
    net.createConnection = original;
  }
}

const memoryMb = functionMemoryMb();
const dynalite = await startDynalite({ thread: true });
const ownClient = localDynamoDbClient(dynalite.endpoint);
await ensureTable(ownClient, TABLE, { pollMs: 20 });
// The deployed function's environment (Powertools at its defaults: INFO logs, metrics on; the
// tracer stays off outside Lambda). Set before the handler module is imported.
Object.assign(process.env, {
  AWS_REGION: PRICES_REGION,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TABLE_NAME: TABLE,
  EVENT_BUS_NAME: 'lwm2m-bs-events',
  IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.us-east-1.amazonaws.com',
  // Required by the uplink function; the bench profile writes no account timeout, so no
  // schedule is created and no Scheduler call is metered.
  PURGE_SCHEDULE_GROUP: 'lwm2m-bs-purges',
  PURGE_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:purge',
  PURGE_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/scheduler',
  PURGE_DEAD_LETTER_ARN: 'arn:aws:sqs:us-east-1:123456789012:purge-failures',
  // Read only when a profile mints server credentials; the bench's profile does not.
  SERVER_CREDENTIALS_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000',
  POWERTOOLS_SERVICE_NAME: 'lwm2m-bs-gateway-uplink',
  POWERTOOLS_METRICS_NAMESPACE: 'Lwm2mBootstrap',
  POWERTOOLS_METRICS_DISABLED: 'false',
  POWERTOOLS_LOG_LEVEL: 'INFO',
});
const meter = new DynamoDbMeter();
await meter.install(ownClient, TABLE);
const store = new DynamoDbBootstrapStore({ client: ownClient, tableName: TABLE });
const lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
await store.putProfile(nosecProfile('fleet', lwm2m.port));
const endpointsOf = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
const devices: DeviceEntry[] = [...endpointsOf('warmup', WARMUP), ...VERSIONS.flatMap((version) => endpointsOf(`cost-${version.replace('.', '')}`, BOOTSTRAPS))].map(
  (endpoint) => ({ endpoint, profile: 'fleet', identities: {}, serverCredentials: {}, oscore: {}, overrides: {} }),
);
await store.putDevices(devices);

const broker = await startCostBroker();
const { handler } = await import('../../functions/gateway-uplink.ts');
const bridge = await CostBridge.start({
  brokerUrl: broker.url,
  broker: broker.broker,
  gatewayClientId: GATEWAY_ID,
  handler: handler as unknown as Parameters<typeof CostBridge.start>[0]['handler'],
  functionMemoryMb: memoryMb,
});
const channel = await withoutNagle(() => MqttBackendChannel.connect({ url: broker.url, gatewayId: GATEWAY_ID, timeoutMs: 5_000 }));
const gateway = await BootstrapGateway.start({ gatewayId: GATEWAY_ID, backend: channel, coap: { port: 0, host4: '127.0.0.1', host6: false }, requestTimeoutMs: 5_000 });
const port = gateway.coap.address('IPv4')!.port;
const logs = new StdoutLogMeter();

/** Until the gateway has reported every session it ran and the function has answered. */
async function settled(ended: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const counters = gateway.counters();
    if (counters['bootstrapsEnded'] === ended && counters['activeSessions'] === 0 && channel.counters()['pending'] === 0 && bridge.busy === 0) return;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify({ ...counters, channelPending: channel.counters()['pending'], bridgeBusy: bridge.busy })}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

let ended = 0;
async function bootstrap(endpoint: string, version: ClientVersion): Promise<string | undefined> {
  const preferredFormat = FORMAT[version];
  const client = new SimulatedClient({
    endpoint,
    version,
    ...(preferredFormat !== undefined && { preferredFormat }),
    register: false,
    bootstrapServer: { host: '127.0.0.1', port },
  });
  try {
    const result = await client.run();
    ended += 1;
    await settled(ended);
    return result.ok ? undefined : `${endpoint}: ${result.error ?? 'failed'}`;
  } finally {
    await client.close();
  }
}

interface Row {
  readonly version: ClientVersion;
  readonly failures: string[];
  readonly aws: AwsUsage;
  readonly dynamoDb: DynamoDbUsage;
  readonly logBytes: number;
  readonly wallMs: number;
}

const started = performance.now();
// The function's cold start and the JIT warm up on throwaway bootstraps of every version.
logs.start();
try {
  for (const [index, endpoint] of endpointsOf('warmup', WARMUP).entries()) await bootstrap(endpoint, VERSIONS[index % VERSIONS.length]!);
} finally {
  logs.stop();
}
const rows: Row[] = [];
for (const version of VERSIONS) {
  bridge.take();
  meter.take();
  logs.take();
  logs.start();
  const failures: string[] = [];
  const rowStarted = performance.now();
  try {
    for (const endpoint of endpointsOf(`cost-${version.replace('.', '')}`, BOOTSTRAPS)) {
      const failure = await bootstrap(endpoint, version);
      if (failure !== undefined) failures.push(failure);
    }
  } finally {
    logs.stop();
  }
  rows.push({ version, failures, aws: bridge.take(), dynamoDb: meter.take(), logBytes: logs.take().bytes, wallMs: performance.now() - rowStarted });
}

await gateway.close();
await channel.close();
await bridge.close();
await broker.close();
await lwm2m.close();
meter.uninstall();
ownClient.destroy();
await dynalite.close();

// ---- per bootstrap, and dollars per million bootstraps ----
interface Figures {
  invocations: number;
  msMean: number;
  msP99: number;
  gbSeconds: number;
  dynamoDbRequests: number;
  byOperation: string;
  readUnits: number;
  writeUnits: number;
  indexWriteUnits: number;
  iotCounted: number;
  iotCountedUnits: number;
  iotMetered: number;
  iotMeteredUnits: number;
  uplinkBytes: number;
  downlinkBytes: number;
  rulesUnits: number;
  actions: number;
  events: number;
  eventUnits: number;
  logBytes: number;
  usd: Record<string, number>;
}

function figures(row: Row): Figures {
  const n = BOOTSTRAPS;
  const { aws, dynamoDb } = row;
  const sorted = [...aws.durationsMs].sort((a, b) => a - b);
  // Lambda bills each invocation's duration rounded up to the millisecond.
  const billedSeconds = sorted.reduce((sum, ms) => sum + Math.ceil(ms), 0) / 1000;
  const gbSeconds = (billedSeconds * memoryMb) / 1024 / n;
  const dynamoDbRequests = Object.values(dynamoDb.requests).reduce((a, b) => a + b, 0) / n;
  const iotMeteredUnits = (aws.uplinks.units + aws.downlinkPublishes.units + aws.deliveries.units + aws.gatewayPubacks) / n;
  const f = {
    invocations: aws.invocations / n,
    msMean: sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1),
    msP99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
    gbSeconds,
    dynamoDbRequests,
    byOperation: Object.entries(dynamoDb.requests).map(([operation, count]) => `${operation} ${fmt(count / n)}`).join(', '),
    readUnits: dynamoDb.readUnits / n,
    writeUnits: dynamoDb.writeUnits / n,
    indexWriteUnits: dynamoDb.indexWriteUnits / n,
    iotCounted: (aws.uplinks.count + aws.downlinkPublishes.count) / n,
    iotCountedUnits: (aws.uplinks.units + aws.downlinkPublishes.units) / n,
    iotMetered: (aws.uplinks.count + aws.downlinkPublishes.count + aws.deliveries.count + aws.gatewayPubacks) / n,
    iotMeteredUnits,
    uplinkBytes: aws.uplinks.bytes / Math.max(aws.uplinks.count, 1),
    downlinkBytes: aws.deliveries.bytes / Math.max(aws.deliveries.count, 1),
    rulesUnits: aws.rulesTriggered.units / n,
    actions: aws.actionsExecuted / n,
    events: aws.events.count / n,
    eventUnits: aws.events.units / n,
    logBytes: row.logBytes / n,
    usd: {} as Record<string, number>,
  };
  const million = 1e6;
  f.usd = {
    'Lambda requests': f.invocations * PRICES.lambdaRequest.usd * million,
    'Lambda compute': f.gbSeconds * PRICES.lambdaArmGbSecond.usd * million,
    'DynamoDB': (f.readUnits * PRICES.dynamoDbReadUnit.usd + f.writeUnits * PRICES.dynamoDbWriteUnit.usd) * million,
    'IoT messaging': f.iotMeteredUnits * PRICES.iotMessage.usd * million,
    'IoT rules engine': (f.rulesUnits * PRICES.iotRuleTriggered.usd + f.actions * PRICES.iotActionExecuted.usd) * million,
    'EventBridge': f.eventUnits * PRICES.eventBridgeCustomEvent.usd * million,
    'CloudWatch Logs': (f.logBytes / 2 ** 30) * PRICES.logsIngestedGb.usd * million,
  };
  return f;
}

function fmt(value: number, digits = 2): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}
const usd = (value: number): string => `$${value.toFixed(2)}`;

const results = rows.map((row) => ({ row, f: figures(row) }));
const cpu = cpus();
const line = (label: string, cell: (f: Figures, row: Row) => string): string => `| ${label} | ${results.map(({ f, row }) => cell(f, row)).join(' | ')} |`;
const out: string[] = [];
out.push(`Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`);
out.push(`Command: npm run bench:cost (BENCH_COST_BOOTSTRAPS=${BOOTSTRAPS}, BENCH_COST_WARMUP=${WARMUP}, PROFILE_CACHE_TTL_MS=${process.env['PROFILE_CACHE_TTL_MS'] ?? 'unset'}); function memory ${memoryMb} MB (infra/constructs/node-function.ts)`);
out.push(`Prices: ${PRICES_REGION} on-demand list prices as known on ${PRICES_AS_OF} (test/bench/cost-prices.ts, docs/cost.md); re-check before quoting.`);
out.push('');
out.push(`| per bootstrap | ${results.map(({ row }) => LABEL[row.version]).join(' | ')} |`);
out.push(`|---|${results.map(() => '---:').join('|')}|`);
out.push(line('bootstraps (failed)', (_, row) => `${BOOTSTRAPS} (${row.failures.length})`));
out.push(line('Lambda invocations', (f) => fmt(f.invocations)));
out.push(line('Lambda ms per invocation, mean / p99 (local)', (f) => `${f.msMean.toFixed(1)} / ${f.msP99.toFixed(1)}`));
out.push(line(`Lambda GB-s (${memoryMb} MB, billed per ms)`, (f) => f.gbSeconds.toExponential(2)));
out.push(line('DynamoDB requests', (f) => fmt(f.dynamoDbRequests)));
out.push(line('DynamoDB requests by operation', (f) => f.byOperation));
out.push(line('DynamoDB RRU / WRU (of which index writes)', (f) => `${fmt(f.readUnits)} / ${fmt(f.writeUnits)} (${fmt(f.indexWriteUnits)})`));
out.push(line('IoT messages: uplinks + downlink publishes (5 KB units)', (f) => `${fmt(f.iotCounted)} (${fmt(f.iotCountedUnits)})`));
out.push(line('IoT messages as metered: + deliveries + gateway PUBACKs (5 KB units)', (f) => `${fmt(f.iotMetered)} (${fmt(f.iotMeteredUnits)})`));
out.push(line('IoT message bytes, topic + payload: uplink / downlink (mean)', (f) => `${fmt(f.uplinkBytes, 0)} / ${fmt(f.downlinkBytes, 0)}`));
out.push(line('IoT rules triggered / actions executed', (f) => `${fmt(f.rulesUnits)} / ${fmt(f.actions)}`));
out.push(line('EventBridge events (64 KB units)', (f) => `${fmt(f.events)} (${fmt(f.eventUnits)})`));
out.push(line('CloudWatch Logs bytes (function stdout)', (f) => fmt(f.logBytes, 0)));
for (const item of Object.keys(results[0]?.f.usd ?? {})) out.push(line(`USD per million: ${item}`, (f) => usd(f.usd[item] ?? 0)));
out.push(line('**USD per million bootstraps**', (f) => `**${usd(Object.values(f.usd).reduce((a, b) => a + b, 0))}**`));
out.push('');

const mark = (met: boolean): string => (met ? 'met' : 'NOT met');
for (const { row, f } of results) {
  out.push(
    `Aims, ${LABEL[row.version]}: invocations ${fmt(f.invocations)} <= ${AIM.invocations} ${mark(f.invocations <= AIM.invocations)}; ` +
      `DynamoDB requests ${fmt(f.dynamoDbRequests)} <= ${AIM.dynamoDbRequests} ${mark(f.dynamoDbRequests <= AIM.dynamoDbRequests)}; ` +
      `IoT messages ${fmt(f.iotCounted)} <= ${AIM.iotMessages} ${mark(f.iotCounted <= AIM.iotMessages)} (as metered: ${fmt(f.iotMeteredUnits)})`,
  );
}
const pack = results.find(({ row }) => row.version === '1.2')?.f;
const others = results.filter(({ row }) => row.version !== '1.2').map(({ f }) => f);
if (pack !== undefined && others.length > 0) {
  const keys = ['invocations', 'dynamoDbRequests', 'iotCounted'] as const;
  const cheapest = Object.fromEntries(keys.map((key) => [key, Math.min(...others.map((f) => f[key]))])) as Record<(typeof keys)[number], number>;
  const less = keys.every((key) => pack[key] <= cheapest[key]) && keys.some((key) => pack[key] < cheapest[key]);
  out.push(`Aim, Bootstrap-Pack less than Bootstrap-Request (invocations, DynamoDB requests, IoT messages): ${keys.map((key) => `${fmt(pack[key])} vs ${fmt(cheapest[key])}`).join(', ')}: ${mark(less)}`);
}
const failures = rows.flatMap((row) => row.failures);
if (failures.length > 0) out.push(`Failed bootstraps (first 5): ${failures.slice(0, 5).join('; ')}`);
for (const row of rows) {
  if (row.aws.failedInvocations > 0) out.push(`${LABEL[row.version]}: ${row.aws.failedInvocations} invocations threw`);
  if (row.dynamoDb.unestimatedIndexWrites > 0) out.push(`${LABEL[row.version]}: ${row.dynamoDb.unestimatedIndexWrites} UpdateItem/DeleteItem requests whose index writes are not estimated`);
}
out.push(`Run: ${((performance.now() - started) / 1000).toFixed(1)} s for ${WARMUP} warm-up and ${BOOTSTRAPS * VERSIONS.length} counted bootstraps.`);
console.log(out.join('\n'));
if (failures.length > 0) process.exitCode = 1;
