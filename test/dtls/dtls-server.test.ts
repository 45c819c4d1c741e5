/**
 * DtlsServer over real UDP on 127.0.0.1 with PskClient (fixtures/psk-client.ts): the retransmission timer,
 * fragmented flights in separate datagrams, close_notify, refused renegotiation, client alerts,
 * counters and callbacks.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AlertDescription, AlertLevel, parseAlert, serializeAlert } from '../../server/dtls/alert.ts';
import { TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CCM_8 } from '../../server/dtls/cipher-suite.ts';
import type { ClientAddress } from '../../server/dtls/cookie.ts';
import { DtlsServer, type DtlsPeer, type DtlsServerOptions } from '../../server/dtls/dtls-server.ts';
import { HandshakeType, serializeHandshake } from '../../server/dtls/handshake.ts';
import { ContentType } from '../../server/dtls/record.ts';
import { hasHandshakeMessage } from './fixtures/datagram-checks.ts';
import { PskClient, type PskClientOptions } from './fixtures/psk-client.ts';
import { UdpEndpoint } from './fixtures/udp-endpoint.ts';
import { connect, finishHandshake, helloExchange, roundTrip, type ConnectedClient } from './fixtures/udp-handshake.ts';

const psk = new Uint8Array(randomBytes(16));
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

interface Harness {
  readonly server: DtlsServer;
  readonly received: string[];
  readonly closed: DtlsPeer[];
  readonly failed: { client: ClientAddress; alert: number }[];
}

async function openServer(options: Partial<DtlsServerOptions> = {}): Promise<Harness> {
  const received: string[] = [];
  const closed: DtlsPeer[] = [];
  const failed: { client: ClientAddress; alert: number }[] = [];
  const server = await DtlsServer.open({
    port: 0,
    host: '127.0.0.1',
    lookupPsk: (identity) => Promise.resolve(identity === 'dev-1' ? psk : undefined),
    onApplicationData: (_peer, data, reply) => {
      received.push(text(data));
      reply(data);
    },
    onPeerClosed: (peer) => closed.push(peer),
    onHandshakeFailed: (client, alert) => failed.push({ client, alert }),
    ...options,
  });
  return { server, received, closed, failed };
}

/** A client of 'dev-1' that completed its handshake with the harness's server. */
function connected(harness: Harness, options: Omit<PskClientOptions, 'identity'> = {}): Promise<ConnectedClient> {
  return connect(harness.server.address(), { psk, identity: 'dev-1', ...options });
}

describe('DtlsServer retransmission timer (RFC 6347 4.2.4)', () => {
  it('resends the ServerHello flight when the first one is lost, and the handshake completes', async () => {
    const harness = await openServer({ retransmitInitialMs: 50 });
    const client = new PskClient({ psk, identity: 'dev-1' });
    const udp = await UdpEndpoint.open(harness.server.address());
    let lost = 0;
    udp.drop = (datagram) => hasHandshakeMessage(HandshakeType.serverHello)(datagram) && lost++ === 0;
    try {
      // The client does not retransmit its hello: only the server's timer can recover.
      await helloExchange(udp, client);
      assert.equal(udp.dropped, 1);
      await finishHandshake(udp, client);
      assert.equal(await roundTrip({ endpoint: udp, client }, 'after loss'), 'after loss');
      assert.equal(harness.server.counters().handshakesCompleted, 1);
    } finally {
      await udp.close();
      await harness.server.close();
    }
  });
});

describe('DtlsServer with fragmented flights in separate datagrams', () => {
  for (const suite of [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256]) {
    it(`completes with 4-byte client fragments and 8-byte server fragments (0x${suite.toString(16)})`, async () => {
      const harness = await openServer({ maxHandshakeFragment: 8 });
      const device = await connected(harness, { suites: [suite], maxFragment: 4 });
      try {
        assert.equal(device.client.chosenSuite, suite);
        assert.equal(await roundTrip(device, 'fragmented'), 'fragmented');
        assert.deepEqual(harness.received, ['fragmented']);
        const counters = harness.server.counters();
        assert.deepEqual(counters, { ...counters, helloVerifyRequests: 1, handshakesStarted: 1, handshakesCompleted: 1, handshakesFailed: 0, peers: 1 });
      } finally {
        await device.endpoint.close();
        await harness.server.close();
      }
    });
  }
});

describe('DtlsServer session end and renegotiation', () => {
  let harness: Harness;
  before(async () => {
    harness = await openServer();
  });
  after(async () => {
    await harness.server.close();
  });

  it('answers close_notify with close_notify and forgets the peer', async () => {
    const { endpoint: udp, client } = await connected(harness, { suites: [TLS_PSK_WITH_AES_128_CBC_SHA256] });
    try {
      assert.equal(harness.server.peerCount, 1);
      await udp.send([client.protect(ContentType.alert, serializeAlert({ level: AlertLevel.warning, description: AlertDescription.closeNotify }))]);
      const [answer] = await udp.nextRecords();
      assert.equal(answer?.type, ContentType.alert);
      assert.deepEqual(parseAlert(client.open(answer)), { level: AlertLevel.warning, description: AlertDescription.closeNotify });
      assert.equal(harness.server.peerCount, 0);
      assert.deepEqual(harness.closed.map((peer) => [peer.identity, peer.port]), [['dev-1', udp.address.port]]);
      // Nothing of the session is left: its data is no longer delivered.
      harness.received.length = 0;
      await udp.send([client.protect(ContentType.applicationData, bytes('late'))]);
      await assert.rejects(udp.nextRecords(200));
      assert.deepEqual(harness.received, []);
    } finally {
      harness.closed.length = 0;
      await udp.close();
    }
  });

  it('ends the peer on a fatal alert from the client, without answering', async () => {
    const { endpoint: udp, client } = await connected(harness);
    try {
      await udp.send([client.protect(ContentType.alert, serializeAlert({ level: AlertLevel.fatal, description: AlertDescription.internalError }))]);
      await assert.rejects(udp.nextRecords(200));
      assert.equal(harness.server.peerCount, 0);
      assert.equal(harness.closed.length, 1);
    } finally {
      harness.closed.length = 0;
      await udp.close();
    }
  });

  it('refuses renegotiation with a warning no_renegotiation alert and keeps the session', async () => {
    const device = await connected(harness);
    const { endpoint: udp, client } = device;
    try {
      await udp.send([client.protect(ContentType.handshake, serializeHandshake(HandshakeType.clientHello, 4, client.helloBody()))]);
      const [answer] = await udp.nextRecords();
      assert.equal(answer?.epoch, 1);
      assert.deepEqual(parseAlert(client.open(answer!)), { level: AlertLevel.warning, description: AlertDescription.noRenegotiation });
      assert.equal(await roundTrip(device, 'still here'), 'still here');
      assert.equal(harness.server.peerCount, 1);
    } finally {
      await udp.close();
    }
  });

  it('reports a failed handshake to onHandshakeFailed and the counters, and keeps no peer', async () => {
    const before = harness.server.counters();
    const client = new PskClient({ psk: new Uint8Array(randomBytes(16)), identity: 'dev-1' });
    const udp = await UdpEndpoint.open(harness.server.address());
    try {
      await helloExchange(udp, client);
      await udp.sendEach(client.secondFlight());
      const [alert] = await udp.nextRecords();
      assert.deepEqual(parseAlert(alert!.fragment), { level: AlertLevel.fatal, description: AlertDescription.decryptError });
      assert.deepEqual(harness.failed.at(-1), { client: { address: '127.0.0.1', port: udp.address.port }, alert: AlertDescription.decryptError });
      const counters = harness.server.counters();
      assert.equal(counters.handshakesFailed, before.handshakesFailed + 1);
      assert.equal(counters.handshakesStarted, before.handshakesStarted + 1);
      assert.equal(counters.handshakesCompleted, before.handshakesCompleted);
    } finally {
      await udp.close();
    }
  });

  it('ends the handshake with internal_error at once when the key lookup itself fails', async () => {
    const failing = await openServer({ lookupPsk: () => Promise.reject(new Error('store unavailable')) });
    const client = new PskClient({ psk, identity: 'dev-1' });
    const udp = await UdpEndpoint.open(failing.server.address());
    try {
      await helloExchange(udp, client);
      await udp.sendEach(client.secondFlight());
      const [alert] = await udp.nextRecords();
      assert.deepEqual(parseAlert(alert!.fragment), { level: AlertLevel.fatal, description: AlertDescription.internalError });
      assert.equal(failing.failed.at(-1)?.alert, AlertDescription.internalError);
      assert.equal(failing.server.peerCount, 0);
    } finally {
      await udp.close();
      await failing.server.close();
    }
  });

  it('counts dropped records', async () => {
    const before = harness.server.counters().recordsDropped;
    const udp = await UdpEndpoint.open(harness.server.address());
    try {
      await udp.send(new Uint8Array([22, 0xfe, 0xfd, 0]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(harness.server.counters().recordsDropped, before + 1);
    } finally {
      await udp.close();
    }
  });
});

describe('DtlsServer options', () => {
  it('refuses an empty or unsupported cipher suite list and a bad fragment size', async () => {
    await assert.rejects(openServer({ cipherSuites: [] }), RangeError);
    await assert.rejects(openServer({ cipherSuites: [0xc0a9] }), RangeError);
    await assert.rejects(openServer({ maxHandshakeFragment: 0 }), RangeError);
    await assert.rejects(openServer({ retransmitInitialMs: 0 }), RangeError);
  });

  it('answers a client with no suite in common with handshake_failure', async () => {
    const harness = await openServer({ cipherSuites: [TLS_PSK_WITH_AES_128_CBC_SHA256] });
    const client = new PskClient({ psk, identity: 'dev-1', suites: [TLS_PSK_WITH_AES_128_CCM_8] });
    const udp = await UdpEndpoint.open(harness.server.address());
    try {
      await udp.sendEach(client.hello());
      await udp.until((records) => (client.receive(records), client.cookie.length > 0));
      await udp.sendEach(client.hello());
      const [alert] = await udp.nextRecords();
      assert.deepEqual(parseAlert(alert!.fragment), { level: AlertLevel.fatal, description: AlertDescription.handshakeFailure });
      assert.equal(harness.server.peerCount, 0);
      assert.deepEqual(harness.failed.map((f) => f.alert), [AlertDescription.handshakeFailure]);
    } finally {
      await udp.close();
      await harness.server.close();
    }
  });
});
