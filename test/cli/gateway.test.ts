import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { main } from '../../cli/main.ts';
import { handleUplink } from '../../shared/bootstrap/backend.ts';
import { pskRevocation } from '../../shared/bootstrap/psk-revocation.ts';
import { PSK_REVOCATIONS_TOPIC } from '../../server/aws/topics.ts';
import { startDynalite, localDynamoDbClient, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from '../e2e/fixtures.ts';
import { startBroker } from '../functions/fixtures.ts';

// `lwm2m-bs gateway` as a real process against stand-ins for AWS: an in-process aedes broker
// (MQTT 3.1.1, plain TCP) for IoT Core, and a bridge for the topic rule and the uplink
// function that answers each uplink with the real backend (handleUplink) over a dynalite store.
const BIN = new URL('../../cli/bin.mjs', import.meta.url).pathname;
const execCli = promisify(execFile);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
/** The caller's environment without any gateway settings, so only the test's reach the child. */
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LWM2M_BS_')));

interface RunningGateway {
  readonly child: ChildProcess;
  readonly port: number;
  /** The coaps port, when the started line names one. */
  readonly coapsPort: number | undefined;
  readonly healthPort: number;
  output(): string;
  stop(): Promise<number | null>;
}

async function startGateway(args: string[], extraEnv: Record<string, string> = {}): Promise<RunningGateway> {
  const child = spawn(process.execPath, [BIN, 'gateway', ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const started = /listening on udp [^\n]*?:(\d+);[^\n]*health on tcp port (\d+)/;
  const deadline = Date.now() + 8_000;
  while (!started.test(text)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const [, port, healthPort] = started.exec(text)!;
  const coapsPort = /coaps \(DTLS 1\.2[^)]*\) on udp [^\n;]*?:(\d+)/.exec(text)?.[1];
  return {
    child,
    port: Number(port),
    coapsPort: coapsPort === undefined ? undefined : Number(coapsPort),
    healthPort: Number(healthPort),
    output: () => text,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** The health answer, or the connection error's code. */
function probeHealth(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

/** A PSK device: its Bootstrap-Server account is DTLS with this identity and key. */
const PSK_ENDPOINT = 'gw-cli-psk';
const PSK_IDENTITY = 'gw-cli-psk-identity';
// A high-entropy key as text (coap-client's -k takes text): a low one would be replaced, and this profile has no Bootstrap-Server to replace it with.
const PSK_KEY_TEXT = randomBytes(24).toString('base64url');

/** The AWS SDK's standard environment, pointed at dynalite: what the ECS task role gives on AWS. */
function awsEnvFor(endpoint: string): Record<string, string> {
  return { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: 'local', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_PROFILE: '' };
}

/** libcoap's OpenSSL client: exit code, and the payload it wrote to `file` (if any). */
async function coapsGet(port: number, identity: string, keyText: string, path: string, file: string, waitSeconds = 4): Promise<{ code: number; payload: string | undefined; stderr: string }> {
  let code = 0;
  let stderr: string;
  try {
    ({ stderr } = await execCli('coap-client-openssl', ['-B', String(waitSeconds), '-u', identity, '-k', keyText, '-m', 'get', '-A', '110', '-o', file, `coaps://127.0.0.1:${port}${path}`], { timeout: 10_000 }));
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    code = typeof failed.code === 'number' ? failed.code : 1;
    stderr = failed.stderr;
  }
  const payload = await readFile(file, 'utf8').catch(() => undefined);
  return { code, payload, stderr };
}

const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execCli(process.execPath, [BIN, ...args], { env, timeout: 10_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

/** The CLI's entry in this process: what bin.mjs runs, without another tsx start-up per case. */
async function runMain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (text) => (stdout += text), readStdin: async () => '' }, (text) => (stderr += text));
  return { code, stdout, stderr };
}

describe('lwm2m-bs gateway as a process, through MQTT to the backend', () => {
  let dynalite: RunningDynalite;
  let store: DynamoDbBootstrapStore;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let bridge: MqttClient;
  let lwm2m: TestLwm2mServer;
  const bridgeFailures: unknown[] = [];
  const downlinksSent: string[] = [];

  before(async () => {
    dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'gateway-cli-test', { pollMs: 20 });
    store = new DynamoDbBootstrapStore({ client, tableName: 'gateway-cli-test' });
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    await store.putProfile(nosecProfile('fleet', lwm2m.port));
    await store.putDevice(device('gw-cli-11', 'fleet'));
    await store.putDevice({ ...device(PSK_ENDPOINT, 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: PSK_IDENTITY, secretKey: Buffer.from(PSK_KEY_TEXT).toString('hex') } });

    broker = await startBroker();
    bridge = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'iot-rule-bridge', reconnectPeriod: 0 });
    await bridge.subscribeAsync('lwm2m-bs/gateways/+/uplink', { qos: 1 });
    bridge.on('message', (topic, payload) => {
      const gatewayId = topic.split('/')[2]!;
      handleUplink(JSON.parse(payload.toString('utf8')), { store, newSessionId: randomUUID, now: () => new Date() })
        .then(async (downlink) => {
          await bridge.publishAsync(`lwm2m-bs/gateways/${gatewayId}/downlink`, JSON.stringify(downlink), { qos: 1 });
          downlinksSent.push(downlink.type);
        })
        .catch((error: unknown) => bridgeFailures.push(error));
    });
  });

  after(async () => {
    await bridge.endAsync(true);
    await broker.close().catch(() => undefined);
    await lwm2m.close();
    await dynalite.close();
  });

  it('exits 2 without a gateway id, as a process, with one line', async () => {
    const missing = await cli('gateway', '--mqtt-url', 'mqtt://127.0.0.1:1');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^lwm2m-bs: --gateway-id is required \(or set LWM2M_BS_GATEWAY_ID\)\n/);
  });

  it('exits 2 for a certificate without its key, 1 for an unreadable certificate or a port in use, in one line', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const busyUdp = udp.address().port;
    const tcp = createServer();
    await new Promise<void>((resolve) => tcp.listen(0, resolve));
    const busyTcp = (tcp.address() as AddressInfo).port;
    const saved = process.env.LWM2M_BS_MQTT_CERT_PEM;
    try {
      process.env.LWM2M_BS_MQTT_CERT_PEM = CERT_PEM;
      const keyless = await runMain('gateway', '--mqtt-url', 'mqtts://127.0.0.1:1', '--gateway-id', 'gw-x');
      delete process.env.LWM2M_BS_MQTT_CERT_PEM;
      assert.equal(keyless.code, 2);
      assert.match(keyless.stderr, /^lwm2m-bs: --cert and --key go together/);
      assert.ok(!keyless.stderr.includes('MIIB'), 'the certificate is not echoed');

      const unreadable = await runMain('gateway', '--mqtt-url', 'mqtts://127.0.0.1:1', '--gateway-id', 'gw-x', '--cert', '/nonexistent/gw.cert.pem', '--key', '/nonexistent/gw.private.key');
      assert.deepEqual(unreadable, { code: 1, stdout: '', stderr: 'lwm2m-bs: cannot read the --cert file /nonexistent/gw.cert.pem: ENOENT\n' });
      const udpInUse = await runMain('gateway', '--mqtt-url', broker.url, '--gateway-id', 'gw-busy-udp', '--port', String(busyUdp), '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0');
      assert.deepEqual(udpInUse, { code: 1, stdout: '', stderr: `lwm2m-bs: UDP port ${busyUdp} is already in use\n` });
      // With a table, coaps binds too; its port taken is its own one line.
      const coapsInUse = await runMain('gateway', '--mqtt-url', broker.url, '--gateway-id', 'gw-busy-coaps', '--port', '0', '--coaps-port', String(busyUdp), '--table', 'gateway-cli-test', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0');
      assert.deepEqual(coapsInUse, { code: 1, stdout: '', stderr: `lwm2m-bs: coaps UDP port ${busyUdp} is already in use\n` });
      const healthInUse = await runMain('gateway', '--mqtt-url', broker.url, '--gateway-id', 'gw-busy-tcp', '--port', '0', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', String(busyTcp));
      assert.deepEqual(healthInUse, { code: 1, stdout: '', stderr: `lwm2m-bs: health TCP port ${busyTcp} is already in use\n` });
    } finally {
      if (saved === undefined) delete process.env.LWM2M_BS_MQTT_CERT_PEM;
      else process.env.LWM2M_BS_MQTT_CERT_PEM = saved;
      udp.close();
      tcp.close();
    }
  });

  it('serves coaps with PSKs found in the table: libcoap fetches a pack, an unknown identity gets no handshake', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-gateway-coaps-'));
    const gateway = await startGateway(
      ['--port', '0', '--coaps-port', '0', '--table', 'gateway-cli-test', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0'],
      { LWM2M_BS_MQTT_URL: broker.url, LWM2M_BS_GATEWAY_ID: 'gw-cli-coaps', ...awsEnvFor(dynalite.endpoint) },
    );
    try {
      assert.match(gateway.output(), /coaps \(DTLS 1\.2, PSK from table gateway-cli-test\) on udp 127\.0\.0\.1:\d+;/);
      const coapsPort = gateway.coapsPort!;
      assert.ok(coapsPort > 0 && coapsPort !== gateway.port);

      // The handshake's key can only have come from the table: the gateway has no other store.
      const fetched = await coapsGet(coapsPort, PSK_IDENTITY, PSK_KEY_TEXT, `/bspack?ep=${PSK_ENDPOINT}`, join(dir, 'pack.json'));
      assert.equal(fetched.code, 0, `${fetched.stderr}\n${gateway.output()}`);
      const pack = JSON.parse(fetched.payload ?? '[]') as { vs?: string }[];
      assert.ok(pack.some((record) => record.vs === `coap://127.0.0.1:${lwm2m.port}`), `2.05 with the LwM2M server account: ${fetched.payload}`);
      const status = await eventually(async () => (await store.getDevice(PSK_ENDPOINT))?.status);
      assert.deepEqual([status.outcome, status.kind], ['success', 'bspack']);

      // An identity the table does not hold: no handshake, no request reaches the backend.
      const unknown = await coapsGet(coapsPort, 'not-in-the-table', PSK_KEY_TEXT, `/bspack?ep=${PSK_ENDPOINT}`, join(dir, 'unknown.json'));
      assert.equal(unknown.payload, undefined, 'no payload without a key');
      // The right identity with a wrong key fails too: the key checked is the table's.
      const wrongKey = await coapsGet(coapsPort, PSK_IDENTITY, 'not-the-key', `/bspack?ep=${PSK_ENDPOINT}`, join(dir, 'wrong.json'));
      assert.equal(wrongKey.payload, undefined, 'no payload with a wrong key');
      assert.equal((gateway.output().match(/bootstrap pack: gw-cli-psk/g) ?? []).length, 1, gateway.output());
      // Both refused alike, as the wire shows them; neither is mistaken for a store failure.
      await eventually(async () => ((gateway.output().match(/dtls handshake failed: 127\.0\.0\.1:\d+: decrypt_error/g) ?? []).length >= 2 ? true : undefined));
      assert.doesNotMatch(gateway.output(), /PSK lookup failed/);
      assert.doesNotMatch(gateway.output(), new RegExp(`${PSK_KEY_TEXT}|${Buffer.from(PSK_KEY_TEXT).toString('hex')}`), 'no key in the log');
      assert.deepEqual(bridgeFailures, []);
    } finally {
      assert.equal(await gateway.stop(), 0, gateway.output());
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs a failing key lookup once, without the identity, and the handshake fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-gateway-coaps-'));
    // A table that is not there stands for any store failure (a missing grant, throttling).
    const gateway = await startGateway(
      ['--port', '0', '--coaps-port', '0', '--table', 'no-such-table', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0'],
      { LWM2M_BS_MQTT_URL: broker.url, LWM2M_BS_GATEWAY_ID: 'gw-cli-coaps-2', ...awsEnvFor(dynalite.endpoint) },
    );
    try {
      for (const file of ['a.json', 'b.json']) {
        // The server drops the handshake without an alert: the client gives up after its wait.
        const attempt = await coapsGet(gateway.coapsPort!, PSK_IDENTITY, PSK_KEY_TEXT, `/bspack?ep=${PSK_ENDPOINT}`, join(dir, file), 1);
        assert.equal(attempt.payload, undefined);
      }
      await eventually(async () => (/coaps: PSK lookup failed: ResourceNotFoundException/.test(gateway.output()) ? true : undefined));
      assert.equal((gateway.output().match(/PSK lookup failed/g) ?? []).length, 1, gateway.output());
      assert.ok(!gateway.output().includes(PSK_IDENTITY), 'the identity is not logged');
    } finally {
      assert.equal(await gateway.stop(), 0, gateway.output());
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('forgets a PSK identity at once when a purge broadcasts its revocation, not at the cache\'s TTL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-gateway-coaps-'));
    const endpoint = 'gw-cli-revoked';
    const identity = 'gw-cli-revoked-identity';
    const keyText = randomBytes(24).toString('base64url');
    const credentials = { securityMode: 'psk' as const, identity, secretKey: Buffer.from(keyText).toString('hex') };
    await store.putDevice({ ...device(endpoint, 'fleet'), bootstrapCredentials: credentials });
    const gateway = await startGateway(
      ['--port', '0', '--coaps-port', '0', '--table', 'gateway-cli-test', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0'],
      { LWM2M_BS_MQTT_URL: broker.url, LWM2M_BS_GATEWAY_ID: 'gw-cli-coaps-3', ...awsEnvFor(dynalite.endpoint) },
    );
    const handshakeFailures = (): number => (gateway.output().match(/dtls handshake failed/g) ?? []).length;
    try {
      const first = await coapsGet(gateway.coapsPort!, identity, keyText, `/bspack?ep=${endpoint}`, join(dir, 'first.json'));
      assert.equal(first.code, 0, `${first.stderr}\n${gateway.output()}`);
      assert.ok(first.payload !== undefined, 'the key is found, and now cached');

      // The purge revokes the credential in the table. Without the broadcast the gateway's cached
      // key would still complete handshakes for up to a minute.
      const current = (await store.getDevice(endpoint))!;
      const revoked = { ...current };
      delete revoked.bootstrapCredentials;
      await store.putDevice(revoked);
      await bridge.publishAsync(PSK_REVOCATIONS_TOPIC, JSON.stringify(pskRevocation(identity, new Date())), { qos: 1 });
      await eventually(async () => (/coaps: PSK identity "gw-cli-revoked-identity" revoked; forgotten/.test(gateway.output()) ? true : undefined));

      const before = handshakeFailures();
      const after = await coapsGet(gateway.coapsPort!, identity, keyText, `/bspack?ep=${endpoint}`, join(dir, 'after.json'));
      assert.equal(after.payload, undefined);
      await eventually(async () => (handshakeFailures() > before ? true : undefined));
      assert.doesNotMatch(gateway.output(), new RegExp(`${keyText}|${credentials.secretKey}`), 'no key in the log');
    } finally {
      assert.equal(await gateway.stop(), 0, gateway.output());
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Last: it closes the broker.
  it('bootstraps a client, answers health while connected and stops answering when the broker goes', async () => {
    // Configured from the environment, as the container is.
    const gateway = await startGateway(['--port', '0', '--bind4', '127.0.0.1', '--no-ipv6', '--health-port', '0'], { LWM2M_BS_MQTT_URL: broker.url, LWM2M_BS_GATEWAY_ID: 'gw-cli' });
    try {
      assert.match(await probeHealth(gateway.healthPort), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/);
      // No table, so no keys: coaps is off, and the started line says why.
      assert.match(gateway.output(), /; coaps off \(it needs the table: --table or LWM2M_BS_TABLE\);/);
      assert.equal(gateway.coapsPort, undefined);

      const client = new SimulatedClient({ endpoint: 'gw-cli-11', version: '1.1', bootstrapServer: { host: '127.0.0.1', port: gateway.port }, useBootstrapPack: false });
      const result = await client.run().finally(() => client.close());
      assert.equal(result.ok, true, `${result.error}\n${gateway.output()}`);
      assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${lwm2m.port}`);
      const status = await eventually(async () => (await store.getDevice('gw-cli-11'))?.status);
      assert.deepEqual([status.outcome, status.kind, status.clientVersion], ['success', 'bs', '1.1']);
      await eventually(async () => (/bootstrap success: gw-cli-11 in \d+ ms/.test(gateway.output()) ? true : undefined));
      assert.deepEqual(bridgeFailures, []);
      // The outcome's answer must be on its way before the broker goes, or the gateway would
      // spend its stop retrying it.
      await eventually(async () => (downlinksSent.includes('bootstrap-recorded') ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 100));

      await broker.close();
      const refused = await eventually(async () => {
        const answer = await probeHealth(gateway.healthPort);
        return answer === 'ECONNREFUSED' ? answer : undefined;
      }, 4_000);
      assert.equal(refused, 'ECONNREFUSED');
      assert.match(gateway.output(), /mqtt: connection lost/);
    } finally {
      assert.equal(await gateway.stop(), 0, gateway.output());
    }
  });

});
