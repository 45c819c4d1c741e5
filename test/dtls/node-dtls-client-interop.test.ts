/**
 * DtlsServer against node-dtls-client, a DTLS 1.2 client written independently in TypeScript, over
 * real UDP on 127.0.0.1: both PSK suites complete, data echoes, close() sends close_notify, and a
 * wrong key fails with nothing delivered. node-dtls-client reads only the first handshake message
 * of each record, which is why the server sends one message (fragment) per record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dtls } from 'node-dtls-client';
import { DtlsServer, type DtlsPeer } from '../../server/dtls/dtls-server.ts';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const WRONG_KEY = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');
const SUITES = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'] as const;
type Suite = (typeof SUITES)[number];

interface Outcome {
  readonly connected: boolean;
  readonly echoed: string | undefined;
  readonly error: string | undefined;
}

/** Connects, sends `message`, waits for the echo, then closes; never rejects. */
function exchange(port: number, suite: Suite, key: Buffer, message: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let connected = false;
    let echoed: string | undefined;
    let settled = false;
    const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { 'dev-1': key.toString('latin1') }, ciphers: [suite], timeout: 2_000 });
    const finish = (error: string | undefined): void => {
      if (settled) return;
      settled = true;
      resolve({ connected, echoed, error });
    };
    socket.on('connected', () => {
      connected = true;
      socket.send(Buffer.from(message));
    });
    socket.on('message', (data: Buffer) => {
      echoed = data.toString();
      socket.close();
    });
    socket.on('error', (error: Error) => finish(error.message));
    socket.on('close', () => finish(undefined));
  });
}

describe('DtlsServer with node-dtls-client', () => {
  let server: DtlsServer;
  const received: { peer: DtlsPeer; text: string }[] = [];
  const closed: DtlsPeer[] = [];

  before(async () => {
    server = await DtlsServer.open({
      port: 0,
      host: '127.0.0.1',
      lookupPsk: (identity) => Promise.resolve(identity === 'dev-1' ? new Uint8Array(KEY) : undefined),
      onApplicationData: (peer, data, reply) => {
        received.push({ peer, text: new TextDecoder().decode(data) });
        reply(data);
      },
      onPeerClosed: (peer) => closed.push(peer),
    });
  });

  after(async () => {
    await server.close();
  });

  for (const suite of SUITES) {
    it(`completes a ${suite} handshake, echoes data and closes with close_notify`, async () => {
      received.length = 0;
      closed.length = 0;
      const outcome = await exchange(server.address().port, suite, KEY, `ping ${suite}`);
      assert.deepEqual(outcome, { connected: true, echoed: `ping ${suite}`, error: undefined });
      assert.deepEqual(received.map((r) => [r.peer.identity, r.text]), [['dev-1', `ping ${suite}`]]);
      // close() sent close_notify: the server answered it and forgot the peer.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(server.peerCount, 0);
      assert.deepEqual(closed.map((peer) => peer.identity), ['dev-1']);
    });

    it(`fails a wrong key under ${suite} with nothing delivered`, async () => {
      received.length = 0;
      const before = server.counters();
      const outcome = await exchange(server.address().port, suite, WRONG_KEY, 'must not arrive');
      assert.equal(outcome.connected, false);
      assert.equal(outcome.echoed, undefined);
      assert.ok(outcome.error !== undefined);
      assert.deepEqual(received, []);
      assert.equal(server.peerCount, 0);
      assert.equal(server.counters().handshakesFailed, before.handshakesFailed + 1);
    });
  }
});
