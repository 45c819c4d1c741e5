/**
 * DtlsServer under attack, over real UDP on 127.0.0.1: spoofed-source floods, replayed and forged
 * cookies, bounded peer state, abandoned handshakes, key guessing, replayed and corrupted records,
 * truncation and reordered flights. The client is test/dtls/fixtures/psk-client.ts, built from
 * the server's own primitives so that each message can be withheld, reordered or damaged.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { parseAlert } from '../../server/dtls/alert.ts';
import { DtlsServer, type DtlsServerOptions } from '../../server/dtls/dtls-server.ts';
import { HandshakeType, parseHandshakeFragments } from '../../server/dtls/handshake.ts';
import { ContentType, DTLS_1_2, parseDatagram, serializeDatagram, serializeRecord, type DtlsRecord } from '../../server/dtls/record.ts';
import { hasAlert, hasEpochOneHandshake, hasHandshakeMessage, helloVerifyCookie } from './fixtures/datagram-checks.ts';
import { PskClient } from './fixtures/psk-client.ts';
import { flipBit } from './fixtures/record-protection.ts';
import { UdpEndpoint } from './fixtures/udp-endpoint.ts';
import { connect, helloExchange, roundTrip, type ConnectedClient } from './fixtures/udp-handshake.ts';

const IDENTITY = 'urn:imei:490154203237518';
const PSK = new Uint8Array(randomBytes(16));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Harness {
  readonly server: DtlsServer;
  /** Application data the server delivered, as text. */
  readonly delivered: string[];
  readonly lookedUp: string[];
}

const opened: (DtlsServer | UdpEndpoint)[] = [];
after(async () => {
  await Promise.all(opened.map((thing) => thing.close()));
});

interface HarnessOptions extends Partial<Pick<DtlsServerOptions, 'maxPeers' | 'handshakeTimeoutMs'>> {
  /** How long the key store takes to answer. */
  readonly lookupDelayMs?: number;
}

async function harness({ lookupDelayMs = 0, ...options }: HarnessOptions = {}): Promise<Harness> {
  const delivered: string[] = [];
  const lookedUp: string[] = [];
  const server = await DtlsServer.open({
    port: 0,
    host: '127.0.0.1',
    lookupPsk: async (identity) => {
      lookedUp.push(identity);
      if (lookupDelayMs > 0) await sleep(lookupDelayMs);
      return identity === IDENTITY ? PSK : undefined;
    },
    onApplicationData: (_peer, data, reply) => {
      delivered.push(decoder.decode(data));
      reply(data);
    },
    ...options,
  });
  opened.push(server);
  return { server, delivered, lookedUp };
}

async function endpoint(server: DtlsServer): Promise<UdpEndpoint> {
  const socket = await UdpEndpoint.open(server.address());
  opened.push(socket);
  return socket;
}

async function connected(server: DtlsServer): Promise<ConnectedClient> {
  const device = await connect(server.address(), { identity: IDENTITY, psk: PSK });
  opened.push(device.endpoint);
  return device;
}

/** A fresh client completes a handshake and gets its data echoed. */
async function assertServes(h: Harness, text = 'still serving'): Promise<void> {
  const device = await connected(h.server);
  assert.equal(await roundTrip(device, text), text);
  assert.ok(h.delivered.includes(text));
}

/** A cookieless ClientHello that varies in the fields a flood would vary. */
function floodHello(i: number): DtlsRecord {
  const client = new PskClient({
    suites: i % 3 === 0 ? [0xc0a8] : [0xc0a8, 0x00ae, 0x00ff],
    sessionId: i % 5 === 0 ? new Uint8Array(randomBytes(32)) : new Uint8Array(0),
  });
  return client.helloRecord(new Uint8Array(0), i % 2);
}

describe('DtlsServer against spoofed sources (RFC 6347 4.2.1)', () => {
  it('answers a flood of cookieless hellos from many ports statelessly and without amplification', async () => {
    const h = await harness();
    const SOCKETS = 256;
    const WORKERS = 32;
    const HELLOS = 3072;
    const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => endpoint(h.server)));
    const heapBefore = process.memoryUsage().heapUsed;
    let answered = 0;
    let amplified = 0;
    let notVerify = 0;
    let maxPeerCount = 0;
    // Each worker owns SOCKETS / WORKERS sockets, so a reply always belongs to the hello just sent.
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        for (let n = worker, round = 0; n < HELLOS; n += WORKERS, round++) {
          const socket = sockets[worker + WORKERS * (round % (SOCKETS / WORKERS))]!;
          const hello = serializeRecord(floodHello(n));
          let reply: Uint8Array | undefined;
          // One resend covers a datagram lost on a busy loopback; a stateless server answers it alike.
          for (let attempt = 0; attempt < 2 && reply === undefined; attempt++) {
            await socket.send(hello);
            reply = await socket.next(1000);
          }
          if (reply === undefined) continue;
          answered++;
          if (reply.length > hello.length) amplified++;
          if (helloVerifyCookie(reply) === undefined) notVerify++;
          maxPeerCount = Math.max(maxPeerCount, h.server.peerCount);
        }
      }),
    );
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    assert.equal(answered, HELLOS);
    assert.equal(amplified, 0, 'a HelloVerifyRequest is never larger than the hello that caused it');
    assert.equal(notVerify, 0);
    assert.equal(maxPeerCount, 0);
    assert.equal(h.server.peerCount, 0);
    // Generous: the flood must not leave per-source state behind (a leak would grow with HELLOS).
    assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
    await assertServes(h);
  });

  it('gets no answer and no peer state for a flood of ClientHello first fragments', async () => {
    const h = await harness();
    // More sources than any sensible table of partial hellos holds, so eviction must happen.
    const sockets = await Promise.all(Array.from({ length: 100 }, () => endpoint(h.server)));
    for (const [i, socket] of sockets.entries()) {
      const body = new PskClient().helloBody();
      // Only the first 20 bytes of the hello: a fragment that can never complete.
      const fragment = new Uint8Array([HandshakeType.clientHello, 0, 0, body.length, 0, 0, 0, 0, 0, 0, 0, 20, ...body.subarray(0, 20)]);
      for (let seq = 0; seq < 4; seq++) await socket.send([{ type: ContentType.handshake, version: 0xfeff, epoch: 0, sequenceNumber: i * 4 + seq, fragment }]);
    }
    await sleep(100);
    for (const socket of sockets) assert.deepEqual(await socket.drain(0), []);
    assert.equal(h.server.peerCount, 0);
    await assertServes(h);
  });

  it('answers a cookie replayed from another port, and a garbage cookie, with a new HelloVerifyRequest and no state', async () => {
    const h = await harness();
    const victim = await endpoint(h.server);
    const attacker = await endpoint(h.server);
    const client = new PskClient();
    await victim.send([client.helloRecord()]);
    const cookie = helloVerifyCookie((await victim.next())!)!;
    assert.equal(cookie.length, 32);

    // The same hello, byte for byte, with the victim's cookie but from another port.
    await attacker.send([client.helloRecord(cookie, 1)]);
    const fresh = helloVerifyCookie((await attacker.next())!);
    assert.ok(fresh !== undefined, 'a new HelloVerifyRequest');
    assert.notDeepEqual(fresh, cookie);
    assert.equal(h.server.peerCount, 0);

    for (const garbage of [new Uint8Array(randomBytes(32)), new Uint8Array(5), new Uint8Array(255).fill(0xa5), new Uint8Array(0)]) {
      await attacker.send([client.helloRecord(garbage, 1)]);
      const reply = (await attacker.next())!;
      assert.ok(hasHandshakeMessage(HandshakeType.helloVerifyRequest)(reply), `garbage cookie of ${garbage.length} bytes`);
      assert.ok(!hasHandshakeMessage(HandshakeType.serverHello)(reply));
    }
    assert.equal(h.server.peerCount, 0);
    assert.deepEqual(await attacker.drain(50), []);

    // The cookie is good where it was issued.
    await victim.send([client.helloRecord(cookie, 1)]);
    assert.ok(await victim.nextMatching(hasHandshakeMessage(HandshakeType.serverHello)));
    assert.equal(h.server.peerCount, 1);
  });
});

describe('DtlsServer peer state bounds', () => {
  it('never holds more than maxPeers and evicts the least recently active', async () => {
    const h = await harness({ maxPeers: 3 });
    const [a, b, c] = [await connected(h.server), await connected(h.server), await connected(h.server)];
    assert.equal(h.server.peerCount, 3);
    const peerCounts: number[] = [];

    // A fourth peer (a half-done handshake) pushes out the oldest, a.
    const d = await endpoint(h.server);
    await helloExchange(d, new PskClient());
    peerCounts.push(h.server.peerCount);
    assert.equal(h.server.sendApplicationData(a.endpoint.address, encoder.encode('x')), false);
    assert.equal(h.server.sendApplicationData(c.endpoint.address, encoder.encode('x')), true);
    assert.equal(await roundTrip(a, 'from evicted a', 300), undefined);
    assert.ok(!h.delivered.includes('from evicted a'));

    // b is active again, so the next newcomer evicts c instead.
    assert.equal(await roundTrip(b, 'b is alive'), 'b is alive');
    for (let i = 0; i < 6; i++) {
      const partial = await endpoint(h.server);
      await helloExchange(partial, new PskClient());
      peerCounts.push(h.server.peerCount);
      if (i === 0) {
        assert.equal(h.server.sendApplicationData(c.endpoint.address, encoder.encode('x')), false, 'c was least recently active');
        assert.equal(h.server.sendApplicationData(b.endpoint.address, encoder.encode('x')), true);
      }
    }
    assert.ok(peerCounts.every((count) => count <= 3), `peer counts ${peerCounts.join(',')}`);
    assert.equal(h.server.peerCount, 3);
  });

  it('forgets a client that stops after its cookie hello once handshakeTimeoutMs passes, but not an established one', async () => {
    const h = await harness({ handshakeTimeoutMs: 150 });
    const established = await connected(h.server);
    const idle = await endpoint(h.server);
    const client = new PskClient({ identity: IDENTITY, psk: PSK });
    await helloExchange(idle, client);
    assert.equal(h.server.peerCount, 2);
    await sleep(400);
    assert.equal(h.server.peerCount, 1, 'the abandoned handshake is gone');
    // Its late key exchange finds no state: no lookup, no answer beyond stray retransmissions.
    await idle.drain(0);
    await idle.send(client.secondFlight());
    await sleep(100);
    assert.deepEqual(h.lookedUp, [IDENTITY], 'only the established client looked up its key');
    assert.ok(!(await idle.drain(0)).some(hasEpochOneHandshake));
    assert.equal(await roundTrip(established, 'outlived the timeout'), 'outlived the timeout');
  });
});

describe('DtlsServer against key guessing (RFC 4279 section 2)', () => {
  async function failedHandshake(h: Harness, identity: string, psk: Uint8Array): Promise<{ alert: { level: number; description: number } } & ConnectedClient> {
    const socket = await endpoint(h.server);
    const client = new PskClient({ identity, psk });
    await helloExchange(socket, client);
    await socket.send(client.secondFlight());
    const reply = await socket.nextMatching(hasAlert);
    assert.ok(reply !== undefined, `an alert for ${identity}`);
    const record = parseDatagram(reply).find((r) => r.type === ContentType.alert)!;
    assert.equal(record.epoch, 0, 'the alert is in the clear: the client may not have our keys');
    return { alert: parseAlert(record.fragment), endpoint: socket, client };
  }

  it('ends a wrong key and an unknown identity with the same fatal decrypt_error, and delivers nothing', async () => {
    const h = await harness();
    const wrongKey = await failedHandshake(h, IDENTITY, new Uint8Array(randomBytes(16)));
    const unknown = await failedHandshake(h, 'urn:imei:000000000000000', PSK);
    assert.deepEqual(wrongKey.alert, { level: 2, description: 51 });
    assert.deepEqual(unknown.alert, wrongKey.alert);
    assert.deepEqual(h.lookedUp, [IDENTITY, 'urn:imei:000000000000000']);
    for (const { endpoint: socket, client } of [wrongKey, unknown]) {
      await socket.send([client.protect(ContentType.applicationData, encoder.encode('smuggled'))]);
    }
    await sleep(100);
    assert.deepEqual(h.delivered, []);
    assert.equal(h.server.peerCount, 0);
  });
});

describe('DtlsServer against injected handshake and alert records', () => {
  it('looks a key up once however often the client repeats its flight during a slow lookup', async () => {
    const h = await harness({ lookupDelayMs: 150 });
    const socket = await endpoint(h.server);
    const client = new PskClient({ identity: IDENTITY, psk: PSK });
    await helloExchange(socket, client);
    await socket.send(client.secondFlight());
    for (let i = 0; i < 4; i++) {
      await sleep(20);
      // A client's retransmission: the same messages under new record sequence numbers.
      await socket.send(client.secondFlightAgain());
    }
    assert.ok(await socket.nextMatching(hasEpochOneHandshake), 'the server Finished');
    assert.deepEqual(h.lookedUp, [IDENTITY]);
    await socket.drain(50);
    assert.equal(await roundTrip({ endpoint: socket, client }, 'one lookup'), 'one lookup');
  });

  it('keeps an established session through plaintext alerts, forged encrypted alerts and stray handshake records from its address', async () => {
    const h = await harness();
    const device = await connected(h.server);
    // Plaintext records anyone on the path can forge with the client's address, and epoch 1 records without its keys.
    const plain = (type: ContentType, fragment: Uint8Array): DtlsRecord => device.client.plain(type, fragment);
    const injected: DtlsRecord[][] = [
      [plain(ContentType.alert, new Uint8Array([2, 40]))],
      [plain(ContentType.alert, new Uint8Array([1, 0]))],
      [{ type: ContentType.alert, version: DTLS_1_2, epoch: 1, sequenceNumber: 1000, fragment: new Uint8Array(randomBytes(18)) }],
      [plain(ContentType.changeCipherSpec, new Uint8Array([1]))],
      [plain(ContentType.handshake, new Uint8Array([HandshakeType.clientKeyExchange, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0]))],
      [{ type: ContentType.handshake, version: DTLS_1_2, epoch: 1, sequenceNumber: 1001, fragment: new Uint8Array(randomBytes(40)) }],
      // A hello without cookie only earns a HelloVerifyRequest; the session stays.
      [device.client.helloRecord(new Uint8Array(0), 0)],
    ];
    for (const records of injected) await device.endpoint.send(records);
    await sleep(50);
    assert.equal(h.server.peerCount, 1);
    assert.equal(await roundTrip(device, 'unbroken'), 'unbroken');
  });
});

describe('DtlsServer against replayed and damaged records (RFC 6347 4.1.2.6, 4.1.2.7)', () => {
  it('delivers a replayed record once and drops a flipped bit silently, and the session goes on', async () => {
    const h = await harness();
    const device = await connected(h.server);
    const first = device.client.protect(ContentType.applicationData, encoder.encode('once'));
    await device.endpoint.send([first]);
    assert.ok(await device.endpoint.next());
    for (let i = 0; i < 3; i++) await device.endpoint.send([first]);

    const second = device.client.protect(ContentType.applicationData, encoder.encode('second'));
    const wire = serializeRecord(second);
    for (const bit of [0, 13 * 8 + 3, 20 * 8, (wire.length - 1) * 8 + 7, 11 * 8 + 7]) {
      await device.endpoint.send(flipBit(wire, bit));
    }
    assert.deepEqual(await device.endpoint.drain(150), [], 'no alert, no answer to damaged or replayed records');
    assert.deepEqual(h.delivered, ['once']);

    // The damaged copies did not take the sequence number: the genuine one still gets through.
    await device.endpoint.send(wire);
    assert.ok(await device.endpoint.next());
    assert.equal(await roundTrip(device, 'third'), 'third');
    assert.deepEqual(h.delivered, ['once', 'second', 'third']);
  });

  it('answers no prefix of a ClientHello datagram, or of a re-framed truncated one, and keeps serving', async () => {
    const h = await harness();
    const socket = await endpoint(h.server);
    const hello = new PskClient().helloRecord();
    const wire = serializeRecord(hello);
    for (let length = 0; length < wire.length; length++) await socket.send(wire.subarray(0, length));
    // Record framing intact, handshake message cut short.
    for (let length = 0; length < hello.fragment.length; length++) await socket.send([{ ...hello, fragment: hello.fragment.subarray(0, length) }]);
    assert.deepEqual(await socket.drain(100), []);
    await socket.send(wire);
    const reply = await socket.next();
    assert.ok(reply !== undefined && helloVerifyCookie(reply) !== undefined, 'the whole hello is answered');
    assert.equal(h.server.peerCount, 0);
    await assertServes(h);
  });

  it('acts on a datagram prefix only when it ends on a record boundary', async () => {
    const h = await harness();
    const device = await connected(h.server);
    const first = device.client.protect(ContentType.applicationData, encoder.encode('first'));
    const second = device.client.protect(ContentType.applicationData, encoder.encode('second'));
    const wire = serializeDatagram([first, second]);
    const boundary = serializeRecord(first).length;
    for (let length = 0; length < wire.length; length++) await device.endpoint.send(wire.subarray(0, length));
    // Record framing intact, ciphertext cut short: authentication fails.
    for (let length = 0; length < second.fragment.length; length++) await device.endpoint.send([{ ...second, fragment: second.fragment.subarray(0, length) }]);
    await sleep(100);
    assert.deepEqual(h.delivered, ['first'], `only the prefix of ${boundary} bytes is a valid datagram`);
    await device.endpoint.drain(0);
    await device.endpoint.send(wire);
    assert.equal((await device.endpoint.drain(100)).length, 1, 'one echo, for second');
    assert.deepEqual(h.delivered, ['first', 'second'], 'the whole datagram: first is a replay, second is new');
    assert.equal(await roundTrip(device, 'after truncation'), 'after truncation');
  });
});

describe('DtlsServer with reordered client flights (RFC 6347 4.2.4)', () => {
  /**
   * Sends the client's second flight in `order`, one datagram per record or all in one, then
   * retransmits it in order (new record numbers, as a client does) if the server's Finished
   * does not come; resolves to how many sends it took.
   */
  async function reordered(h: Harness, order: readonly ('kx' | 'ccs' | 'fin')[], oneDatagram: boolean): Promise<{ device: ConnectedClient; attempts: number }> {
    const socket = await endpoint(h.server);
    const client = new PskClient({ identity: IDENTITY, psk: PSK });
    await helloExchange(socket, client);
    const made = { kx: client.keyExchange(), ccs: [client.changeCipherSpec()], fin: client.finished() };
    const records = order.flatMap((name) => made[name]);
    if (oneDatagram) await socket.send(records);
    else await socket.sendEach(records);
    let attempts = 1;
    let finished = await socket.nextMatching(hasEpochOneHandshake, 300);
    while (finished === undefined && attempts < 3) {
      attempts++;
      await socket.send(client.secondFlightAgain());
      finished = await socket.nextMatching(hasEpochOneHandshake, 500);
    }
    assert.ok(finished !== undefined, `no server Finished after ${attempts} flights for ${order.join(',')}`);
    const record = parseDatagram(finished).find((r) => r.epoch === 1 && r.type === ContentType.handshake)!;
    const [message] = parseHandshakeFragments(client.open(record));
    assert.equal(message?.msgType, HandshakeType.finished);
    return { device: { endpoint: socket, client }, attempts };
  }

  for (const [order, oneDatagram] of [
    [['ccs', 'fin', 'kx'], false],
    [['fin', 'ccs', 'kx'], true],
    [['kx', 'fin', 'ccs'], false],
    [['kx', 'fin', 'ccs'], true],
  ] as const) {
    it(`completes with ${order.join(', ')} in ${oneDatagram ? 'one datagram' : 'separate datagrams'}`, async () => {
      const h = await harness();
      const { device, attempts } = await reordered(h, order, oneDatagram);
      if (order[0] === 'kx') assert.equal(attempts, 1, 'a Finished ahead of its ChangeCipherSpec is held, not dropped');
      assert.equal(await roundTrip(device, 'reordered'), 'reordered');
      assert.deepEqual(h.lookedUp, [IDENTITY]);
    });
  }
});
