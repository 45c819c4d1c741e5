/**
 * DtlsServer against an independent stack: `openssl s_client -dtls1_2` with PSK-AES128-CCM8 over
 * real UDP on 127.0.0.1. Skipped when openssl is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { DtlsServer, type DtlsPeer } from '../../server/dtls/dtls-server.ts';

const KEY_HEX = '000102030405060708090a0b0c0d0e0f';
const WRONG_KEY_HEX = '0f0e0d0c0b0a09080706050403020100';
const opensslMissing = spawnSync('openssl', ['version']).error !== undefined;
const skip = opensslMissing ? 'openssl is not on PATH' : false;

interface ClientRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** s_client sends "hello\n" and keeps stdin open long enough for the echo to come back. */
function runClient(port: number, keyHex: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk_identity', 'dev-1', '-psk', keyHex, '-cipher', 'PSK-AES128-CCM8', '-quiet', '-no_ign_eof'],
      { stdio: ['pipe', 'pipe', 'pipe'], timeout: 8_000 },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // The echo arrived: closing stdin makes s_client send close_notify and exit.
      if (stdout.includes('hello')) child.stdin.end();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.write('hello\n');
    const stdinTimer = setTimeout(() => child.stdin.end(), 3_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(stdinTimer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('DtlsServer with openssl s_client', { skip }, () => {
  let server: DtlsServer;
  const received: { peer: DtlsPeer; text: string }[] = [];
  const lookedUp: string[] = [];

  before(async () => {
    server = await DtlsServer.open({
      port: 0,
      host: '127.0.0.1',
      lookupPsk: (identity) => {
        lookedUp.push(identity);
        return Promise.resolve(identity === 'dev-1' ? new Uint8Array(Buffer.from(KEY_HEX, 'hex')) : undefined);
      },
      onApplicationData: (peer, data, reply) => {
        received.push({ peer, text: new TextDecoder().decode(data) });
        reply(data);
      },
    });
  });

  after(async () => {
    await server.close();
  });

  it('completes a PSK-AES128-CCM8 handshake and echoes application data', async () => {
    received.length = 0;
    const run = await runClient(server.address().port, KEY_HEX);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(received.map((r) => r.text), ['hello\n']);
    assert.equal(received[0]?.peer.identity, 'dev-1');
    assert.equal(received[0]?.peer.address, '127.0.0.1');
    assert.match(run.stdout, /hello/);
  });

  it('rejects a wrong key with a decrypt_error alert and passes no data up', async () => {
    received.length = 0;
    lookedUp.length = 0;
    const run = await runClient(server.address().port, WRONG_KEY_HEX);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /alert decrypt error/);
    assert.deepEqual(lookedUp, ['dev-1']);
    assert.deepEqual(received, []);
    assert.equal(server.peerCount, 0);
  });

  it('survives garbage datagrams and keeps serving', async () => {
    const { createSocket } = await import('node:dgram');
    const socket = createSocket('udp4');
    const { port } = server.address();
    const junk = [new Uint8Array(0), new Uint8Array([22, 0xfe, 0xfd, 0, 0]), new Uint8Array(200).fill(0x16), new Uint8Array([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2])];
    for (const datagram of junk) await new Promise<void>((resolve) => socket.send(datagram, port, '127.0.0.1', () => resolve()));
    socket.close();
    received.length = 0;
    const run = await runClient(port, KEY_HEX);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(received.map((r) => r.text), ['hello\n']);
  });
});
