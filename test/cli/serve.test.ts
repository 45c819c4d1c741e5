import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SimulatedClient } from '../../simulator/client.ts';

const BIN = new URL('../../cli/bin.mjs', import.meta.url).pathname;
const execCli = promisify(execFile);
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  readonly demoPort: number | undefined;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `lwm2m-bs serve` as a real process and waits for its listening line. */
async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!/listening on udp [^\n]*:(\d+)/.test(text)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const port = Number(/listening on udp [^\n]*?:(\d+)/.exec(text)![1]);
  const demo = /demo LwM2M server [^\n]*:(\d+)/.exec(text);
  return {
    child,
    port,
    demoPort: demo ? Number(demo[1]) : undefined,
    output: () => text,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill('SIGINT');
      }),
  };
}

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execCli(process.execPath, [BIN, ...args], { env, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe('lwm2m-bs serve and simulate as processes', () => {
  let dataDir: string;
  let configFile: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-serve-'));
    // The quick start's example, pointed at the demo server's port so parallel runs do not clash.
    const example = JSON.parse(await readFile(new URL('../../docs/examples/quickstart.json', import.meta.url), 'utf8')) as {
      profiles: { servers: { uri: string }[] }[];
    };
    example.profiles[0]!.servers[0]!.uri = 'coap://127.0.0.1:DEMO_PORT';
    configFile = join(dataDir, 'config.json');
    await writeFile(configFile, JSON.stringify(example));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('runs the quick start: a client bootstraps, registers at the demo server, and its status survives a restart', async () => {
    // The demo port must be known before the config names it: take one from a first run.
    const probe = await serve(['--port', '0', '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--data-dir', join(dataDir, 'probe'), '--demo-server', '0']);
    const demoPort = probe.demoPort!;
    await probe.stop();
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replace('DEMO_PORT', String(demoPort)));

    const first = await serve(['--port', '0', '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--data-dir', dataDir, '--config', configFile, '--demo-server', String(demoPort)]);
    const client = new SimulatedClient({ endpoint: 'quickstart-client', version: '1.1', bootstrapServer: { host: '127.0.0.1', port: first.port }, useBootstrapPack: false });
    const result = await client.run();
    await client.close();
    assert.equal(result.ok, true, result.error);
    assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${demoPort}`);
    const deadline = Date.now() + 5000;
    while (!/registered: quickstart-client/.test(first.output()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(first.output(), /bootstrap success: quickstart-client/);
    assert.match(first.output(), /registered: quickstart-client \(LwM2M 1\.1/);

    // The quick start's DTLS device, as the README shows it, over libcoap's OpenSSL client.
    const coapsPort = Number(/coaps \(DTLS 1\.2, PSK\) on udp [^\n]*?:(\d+)/.exec(first.output())![1]);
    const packFile = join(dataDir, 'dtls-client.json');
    await promisify(execFile)('coap-client-openssl', ['-B', '4', '-u', 'dtls-client', '-k', 'quickstart-dtls-key-7Hq9ZkP2mW4xR8vN', '-m', 'get', '-A', '110', '-o', packFile, `coaps://127.0.0.1:${coapsPort}/bspack`], { timeout: 10_000 });
    const pack = JSON.parse(await readFile(packFile, 'utf8')) as { bn?: string; n?: string; vs?: string }[];
    assert.ok(pack.some((record) => record.vs === `coap://127.0.0.1:${demoPort}`), 'the pack holds the LwM2M server account');

    // While serve runs, the CLI reaches its store through the data directory.
    const live = await cli('status', 'quickstart-client', '--data-dir', dataDir);
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /success/);
    assert.equal(await first.stop(), 0);

    // Stopped: the CLI opens the persisted store itself.
    const persisted = await cli('status', 'quickstart-client', '--data-dir', dataDir, '--json');
    assert.equal(persisted.code, 0, persisted.stderr);
    assert.match(persisted.stdout, /"outcome": ?"success"/);
  });

  it('simulate targets a running serve and every client bootstraps and registers', async () => {
    const running = await serve(['--port', '0', '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--data-dir', join(dataDir, 'sim')]);
    try {
      const run = await cli('simulate', '--server', `127.0.0.1:${running.port}`, '--data-dir', join(dataDir, 'sim'), '--clients', '6', '--concurrency', '3');
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /6 clients in [\d.]+ s; 6 registrations/);
      const status = await cli('status', 'sim-5', '--data-dir', join(dataDir, 'sim'));
      assert.match(status.stdout, /success/);
    } finally {
      await running.stop();
    }
  });

  it('simulate alone brings its own servers; a bad flag is a usage error', async () => {
    const run = await cli('simulate', '--clients', '3', '--versions', '1.0,1.2');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^1\.0 /m);
    assert.match(run.stdout, /^1\.2 /m);
    const bad = await cli('simulate', '--versions', '2.0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--versions/);
  });

  it('serve says so in one line when its port is taken', async () => {
    const running = await serve(['--port', '0', '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--data-dir', join(dataDir, 'taken-a')]);
    try {
      const run = await cli('serve', '--port', String(running.port), '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--bind4', '127.0.0.1', '--data-dir', join(dataDir, 'taken-b'));
      assert.equal(run.code, 1);
      assert.match(run.stderr, /UDP port \d+ is already in use/);
      // The coaps port taken while plain CoAP's is free: the message names the coaps port.
      const coaps = await cli('serve', '--port', '0', '--attach-port', '0', '--coaps-port', String(running.port), '--no-ipv6', '--bind4', '127.0.0.1', '--data-dir', join(dataDir, 'taken-c'));
      assert.equal(coaps.code, 1);
      assert.match(coaps.stderr, new RegExp(`UDP port ${running.port} is already in use`));
    } finally {
      await running.stop();
    }
  });

  it('serve also listens for coaps (DTLS) and says where', async () => {
    const running = await serve(['--port', '0', '--coaps-port', '0', '--attach-port', '0', '--no-ipv6', '--data-dir', join(dataDir, 'coaps')]);
    try {
      assert.match(running.output(), /coaps \(DTLS 1\.2, PSK\) on udp 0\.0\.0\.0:\d+/);
    } finally {
      await running.stop();
    }
    const plain = await serve(['--port', '0', '--no-coaps', '--no-attach', '--no-ipv6', '--data-dir', join(dataDir, 'no-coaps')]);
    try {
      assert.doesNotMatch(plain.output(), /coaps \(DTLS/);
    } finally {
      await plain.stop();
    }
  });

  it('serve refuses an invalid config file naming the field, and writes nothing', async () => {
    const broken = join(dataDir, 'broken.json');
    await writeFile(broken, JSON.stringify({ profiles: [{ name: 'x', servers: [] }] }));
    const run = await cli('serve', '--port', '0', '--coaps-port', '0', '--attach-port', '0', '--data-dir', join(dataDir, 'broken'), '--config', broken);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /profiles\.0\.servers/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});
