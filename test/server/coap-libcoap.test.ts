import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoapCode } from '../../shared/coap/code.ts';
import { uriPathString } from '../../shared/coap/uri.ts';
import { CoapEndpoint } from '../../server/coap/endpoint.ts';
import type { IncomingRequest } from '../../server/coap/endpoint.ts';

// Interop with libcoap 4.3 (installed by .ci/run): its coap-client against our endpoint, and our
// endpoint's requests against its coap-server.

const encoder = new TextEncoder();
const LARGE = Array.from({ length: 300 }, (_, index) => `line ${index}`).join('\n');

function coapClient(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('coap-client-notls', ['-B', '5', ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`coap-client ${args.join(' ')}: ${error.message} ${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

describe('libcoap coap-client against CoapEndpoint', () => {
  const seen: IncomingRequest[] = [];
  let endpoint: CoapEndpoint;
  let port: number;
  let directory: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'coap-libcoap-'));
    endpoint = await CoapEndpoint.open({
      port: 0,
      host4: '127.0.0.1',
      host6: false,
      onRequest: (request) => {
        seen.push(request);
        const path = uriPathString(request.message.options);
        if (path === '/bs') return { code: CoapCode.CHANGED, payload: encoder.encode('bootstrap ok') };
        if (path === '/large') return { code: CoapCode.CONTENT, contentFormat: 0, payload: encoder.encode(LARGE) };
        if (path === '/upload') return { code: CoapCode.CHANGED, payload: encoder.encode(`got ${request.message.payload.length}`) };
        return { code: CoapCode.NOT_FOUND };
      },
    });
    port = endpoint.address('IPv4')!.port;
  });

  after(async () => {
    await endpoint.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('POSTs a Bootstrap-Request with its query', async () => {
    seen.length = 0;
    const { stdout } = await coapClient(['-m', 'post', `coap://127.0.0.1:${port}/bs?ep=x`]);
    assert.equal(stdout.trim(), 'bootstrap ok');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.message.code, CoapCode.POST);
    assert.deepEqual(seen[0]!.message.options.uriQuery, ['ep=x']);
    assert.equal(seen[0]!.peer.address, '127.0.0.1');
  });

  it('GETs a large resource in 64-byte Block2 blocks', async () => {
    seen.length = 0;
    const { stdout } = await coapClient(['-m', 'get', '-b', '64', `coap://127.0.0.1:${port}/large`]);
    assert.equal(stdout.replace(/\n$/, ''), LARGE);
    assert.equal(seen.length, 1, 'the handler runs once; later blocks come from the cache');
    assert.equal(endpoint.counters().block2Served, Math.ceil(encoder.encode(LARGE).length / 64));
  });

  it('PUTs a file in 64-byte Block1 blocks, reassembled before the handler', async () => {
    seen.length = 0;
    const content = Buffer.from(Array.from({ length: 1000 }, (_, index) => 65 + (index % 26)));
    const file = join(directory, 'upload.bin');
    writeFileSync(file, content);
    const { stdout } = await coapClient(['-m', 'put', '-b', '64', '-f', file, `coap://127.0.0.1:${port}/upload`]);
    assert.equal(stdout.trim(), 'got 1000');
    assert.equal(seen.length, 1);
    assert.deepEqual(Buffer.from(seen[0]!.message.payload), content);
    assert.equal(seen[0]!.message.options.block1, undefined);
  });
});

describe('CoapEndpoint requests against libcoap coap-server', () => {
  let server: ChildProcess;
  let endpoint: CoapEndpoint;
  let serverPort: number;

  before(async () => {
    // A port that was free a moment ago; coap-server cannot report an ephemeral one.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    serverPort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    server = spawn('coap-server-notls', ['-A', '127.0.0.1', '-p', String(serverPort), '-v', '0'], { stdio: 'ignore' });
    // The first request retransmits until the server is up.
    endpoint = await CoapEndpoint.open({ port: 0, host4: '127.0.0.1', host6: false, blockSize: 64, ackTimeoutMs: 100, onRequest: () => ({ code: CoapCode.NOT_FOUND }) });
  });

  after(async () => {
    await endpoint.close();
    server.kill();
  });

  it('PUTs a body with Block1 and GETs it back with Block2', async () => {
    const peer = { address: '127.0.0.1', port: serverPort, family: 'IPv4' as const };
    const body = encoder.encode(Array.from({ length: 200 }, (_, index) => `row ${index}`).join(','));
    const put = await endpoint.request(peer, { method: 'PUT', path: '/example_data', contentFormat: 0, payload: body });
    assert.equal(put.code >> 5, 2, `PUT answered ${put.code}`);
    const get = await endpoint.request(peer, { method: 'GET', path: '/example_data' });
    assert.equal(get.code, CoapCode.CONTENT);
    assert.deepEqual(get.payload, body);
    assert.ok(get.message.options.block2 !== undefined, 'coap-server answered in blocks');
  });
});
