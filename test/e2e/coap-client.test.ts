import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent } from '../../shared/content/registry.ts';
import { flattenTree } from '../../shared/content/tree.ts';
import { formatPath, ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

const run = promisify(execFile);

// libcoap's coap-client-notls (Debian libcoap3-bin, installed by .ci/run) as an independent
// CoAP peer against the gateway. It prints error responses on stderr as "<code> <payload>".
async function coapClient(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('coap-client-notls', ['-B', '5', ...args], { timeout: 10_000 });
}

describe('gateway against libcoap coap-client', () => {
  let server: LocalServer;
  let base: string;
  let workDir: string;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-coap-client-'));
    server = await startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, requestTimeoutMs: 300 });
    base = `coap://127.0.0.1:${server.gateway.coap.address('IPv4')!.port}`;
    await server.store.putProfile(nosecProfile('fleet', 5685));
    for (const endpoint of ['gone-quiet', 'packed', 'packed-json', 'repeat']) await server.store.putDevice(device(endpoint, 'fleet'));
  });

  after(async () => {
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('answers POST /bs with 2.04, then records a timeout when the client never answers', async () => {
    const { stderr } = await coapClient('-m', 'post', `${base}/bs?ep=gone-quiet&pct=112`);
    assert.equal(stderr.trim(), '');
    // coap-client exits after 2.04, so the gateway's Bootstrap-Discover goes unanswered.
    const status = await eventually(async () => (await server.store.getDevice('gone-quiet'))?.status, 8000);
    assert.equal(status.outcome, 'timeout');
    assert.match(status.detail ?? '', /discover/i);
  });

  it('refuses an unknown endpoint with a plain 4.00 that does not say whether the name exists', async () => {
    const unknown = await coapClient('-m', 'post', `${base}/bs?ep=nobody-here`);
    assert.match(unknown.stderr, /^4\.00 bootstrap refused$/m);
    const rejectedBefore = server.gateway.counters().bootstrapsRejected ?? 0;
    await server.store.putProfile(nosecProfile('dtls-only', 5685));
    await server.store.putDevice({ ...device('dtls-device', 'dtls-only'), bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-device', secretKey: '00112233445566778899aabbccddeeff' } });
    const known = await coapClient('-m', 'post', `${base}/bs?ep=dtls-device`);
    assert.equal(known.stderr, unknown.stderr.replace('nobody-here', 'dtls-device'), 'a known device refused over NoSec looks the same');
    assert.equal(server.gateway.counters().bootstrapsRejected, rejectedBefore + 1);
    const status = await eventually(async () => (await server.store.getDevice('dtls-device'))?.status);
    assert.equal(status.outcome, 'rejected');
    assert.match(status.detail ?? '', /insecure-transport/);
  });

  it('refuses a Bootstrap-Request without ep, or with a broken pct, with 4.00', async () => {
    assert.match((await coapClient('-m', 'post', `${base}/bs`)).stderr, /^4\.00 missing ep/m);
    assert.match((await coapClient('-m', 'post', `${base}/bs?ep=repeat&pct=abc`)).stderr, /^4\.00 invalid pct/m);
  });

  it('answers the wrong method with 4.05 and another path with 4.04', async () => {
    assert.match((await coapClient('-m', 'get', `${base}/bs?ep=repeat`)).stderr, /^4\.05/m);
    assert.match((await coapClient('-m', 'post', `${base}/rd?ep=repeat`)).stderr, /^4\.04/m);
  });

  it('serves GET /bspack as SenML-CBOR in 64-byte blocks that decode to the configuration', async () => {
    const output = join(workDir, 'pack.cbor');
    await coapClient('-m', 'get', '-A', '112', '-b', '64', '-o', output, `${base}/bspack?ep=packed`);
    const payload = new Uint8Array(await readFile(output));
    assert.ok(payload.length > 64, 'the pack needed more than one block');
    const values = new Map(flattenTree(decodeContent(ContentFormat.SENML_CBOR, payload, ROOT_PATH)).map(({ path, value }) => [formatPath(path), value]));
    assert.deepEqual(values.get('/0/1/0'), { type: 'string', value: 'coap://127.0.0.1:5685' });
    assert.deepEqual(values.get('/1/0/0'), { type: 'integer', value: 101n });
    const status = await eventually(async () => (await server.store.getDevice('packed'))?.status);
    assert.equal(status.kind, 'bspack');
    assert.equal(status.outcome, 'success');
  });

  it('serves the pack in SenML-JSON when asked, and 4.06 for a format that cannot hold it', async () => {
    const { stdout } = await coapClient('-m', 'get', '-A', '110', `${base}/bspack?ep=packed-json`);
    const records = JSON.parse(stdout) as { bn?: string; n?: string }[];
    assert.ok(records.some((record) => `${record.bn ?? ''}${record.n ?? ''}`.endsWith('/0/1/0')));
    assert.match((await coapClient('-m', 'get', '-A', '11542', `${base}/bspack?ep=packed-json`)).stderr, /^4\.06/m);
  });

  it('drops malformed datagrams, resets a broken CON, and keeps serving', async () => {
    const socket = createSocket('udp4');
    const port = server.gateway.coap.address('IPv4')!.port;
    const replies: Buffer[] = [];
    socket.on('message', (message) => replies.push(message));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const send = (bytes: number[]): Promise<void> =>
      new Promise((resolve, reject) => socket.send(Uint8Array.from(bytes), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
    const before = server.gateway.counters().malformed ?? 0;
    await send([0x01, 0x02]); // shorter than a header
    await send([0x40, 0x02, 0x12, 0x34, 0xf1, 0x00]); // CON with option delta 15: Reset
    await send([0x50, 0x02, 0x12, 0x35, 0xf1, 0x00]); // NON with the same fault: dropped
    await eventually(async () => (replies.length >= 1 ? true : undefined), 2000);
    socket.close();
    const reset = replies[0]!;
    assert.equal(reset[0]! >> 4 & 0x03, 3, 'a Reset');
    assert.equal(reset.readUInt16BE(2), 0x1234, 'for the broken CON');
    assert.equal(replies.length, 1);
    assert.ok((server.gateway.counters().malformed ?? 0) >= before + 3);
    assert.match((await coapClient('-m', 'post', `${base}/bs?ep=nobody-here`)).stderr, /^4\.00/m);
  });
});
