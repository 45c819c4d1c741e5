/**
 * DtlsServer against an independent stack: `openssl s_client -dtls1_2` with PSK-AES128-CCM8 and
 * PSK-AES128-CBC-SHA256 over real UDP on 127.0.0.1, including a ClientHello that OpenSSL fragments
 * over several datagrams. Skipped when openssl is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { DtlsServer, type DtlsPeer } from '../../server/dtls/dtls-server.ts';
import { HandshakeType, parseHandshakeFragments } from '../../server/dtls/handshake.ts';
import { ContentType, parseDatagram } from '../../server/dtls/record.ts';

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
function runClient(port: number, keyHex: string, cipher = 'PSK-AES128-CCM8', extra: readonly string[] = []): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk_identity', 'dev-1', '-psk', keyHex, '-cipher', cipher, '-quiet', '-no_ign_eof', ...extra],
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

/** A UDP relay between s_client and the server that counts ClientHello fragments smaller than their message. */
class FragmentCountingRelay {
  readonly #socket: Socket;
  helloFragments = 0;

  private constructor(socket: Socket, serverPort: number) {
    this.#socket = socket;
    let clientPort = 0;
    socket.on('message', (datagram, remote) => {
      if (remote.port === serverPort) {
        socket.send(datagram, clientPort, '127.0.0.1');
        return;
      }
      clientPort = remote.port;
      try {
        for (const record of parseDatagram(new Uint8Array(datagram))) {
          if (record.type !== ContentType.handshake || record.epoch !== 0) continue;
          for (const fragment of parseHandshakeFragments(record.fragment)) {
            if (fragment.msgType === HandshakeType.clientHello && fragment.body.length < fragment.length) this.helloFragments++;
          }
        }
      } catch {
        // Not ours to judge: the server drops what it cannot parse.
      }
      socket.send(datagram, serverPort, '127.0.0.1');
    });
  }

  static async open(serverPort: number): Promise<FragmentCountingRelay> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new FragmentCountingRelay(socket, serverPort);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
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

  it('completes a PSK-AES128-CBC-SHA256 handshake and echoes application data', async () => {
    received.length = 0;
    const run = await runClient(server.address().port, KEY_HEX, 'PSK-AES128-CBC-SHA256');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(received.map((r) => r.text), ['hello\n']);
    assert.match(run.stdout, /hello/);
  });

  it('rejects a wrong key under CBC-SHA256 too, with nothing delivered', async () => {
    received.length = 0;
    const run = await runClient(server.address().port, WRONG_KEY_HEX, 'PSK-AES128-CBC-SHA256');
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /alert decrypt error/);
    assert.deepEqual(received, []);
  });

  it('reassembles a ClientHello that OpenSSL fragments over datagrams (-mtu 256, a long suite list)', async () => {
    received.length = 0;
    const relay = await FragmentCountingRelay.open(server.address().port);
    try {
      // Every suite OpenSSL knows makes the hello longer than a 256-byte datagram can carry.
      const run = await runClient(relay.port, KEY_HEX, 'ALL:PSK', ['-mtu', '256']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(received.map((r) => r.text), ['hello\n']);
      assert.ok(relay.helloFragments > 1, `the hello came in ${relay.helloFragments} fragments`);
    } finally {
      await relay.close();
    }
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
