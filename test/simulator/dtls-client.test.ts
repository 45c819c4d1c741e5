import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DtlsServer, type DtlsPeer } from '../../server/dtls/dtls-server.ts';
import { CoapCode, formatCode, parseCoapMessage, serializeCoapMessage, type CoapMessage, type CoapOptions } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { encodeContent } from '../../shared/content/registry.ts';
import type { ContentTree } from '../../shared/content/tree.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { booleanValue, integerValue, opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { CoapTransport, DtlsHandshakeError, type IncomingRequest } from '../../simulator/transport.ts';

// The simulator's CoAP peer over node-dtls-client, against the gateway's DtlsServer used here
// only as a DTLS peer that speaks plain shared/coap on top.
const IDENTITY = 'sim-device-1';
const KEY = Uint8Array.from({ length: 16 }, (_, index) => 0xa0 + index);
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Answer = (request: CoapMessage, peer: DtlsPeer) => { code: number; options?: CoapOptions; payload?: Uint8Array };

/** A CoAP server on a DtlsServer: answers requests with piggybacked ACKs, and can send its own CON requests. */
class DtlsCoapPeer {
  readonly requests: { message: CoapMessage; peer: DtlsPeer }[] = [];
  readonly closedPeers: DtlsPeer[] = [];
  answer: Answer = () => ({ code: CoapCode.NOT_FOUND });
  readonly #awaiting = new Map<number, (message: CoapMessage) => void>();
  #server: DtlsServer | undefined;
  #messageId = randomInt(0, 0x10000);

  async open(): Promise<void> {
    this.#server = await DtlsServer.open({
      port: 0,
      host: '127.0.0.1',
      lookupPsk: (identity) => Promise.resolve(identity === IDENTITY ? KEY : undefined),
      onApplicationData: (peer, data, reply) => this.#receive(peer, data, reply),
      onPeerClosed: (peer) => this.closedPeers.push(peer),
    });
  }

  get port(): number {
    return this.#server!.address().port;
  }

  /** A CON request to a peer with a session; resolves with its piggybacked answer. */
  request(peer: DtlsPeer, code: number, options: CoapOptions, payload: Uint8Array = EMPTY): Promise<CoapMessage> {
    this.#messageId = (this.#messageId + 1) & 0xffff;
    const messageId = this.#messageId;
    const answered = new Promise<CoapMessage>((resolve) => this.#awaiting.set(messageId, resolve));
    const bytes = serializeCoapMessage({ type: 'CON', code, messageId, token: Uint8Array.of(0x5e, messageId & 0xff), options, payload });
    assert.ok(this.#server!.sendApplicationData(peer, bytes), 'the peer has a session');
    return answered;
  }

  close(): Promise<void> {
    return this.#server!.close();
  }

  #receive(peer: DtlsPeer, data: Uint8Array, reply: (data: Uint8Array) => void): void {
    const message = parseCoapMessage(data);
    if (message.type === 'ACK') {
      this.#awaiting.get(message.messageId)?.(message);
      this.#awaiting.delete(message.messageId);
      return;
    }
    this.requests.push({ message, peer });
    const { code, options = {}, payload = EMPTY } = this.answer(message, peer);
    reply(serializeCoapMessage({ type: 'ACK', code, messageId: message.messageId, token: message.token, options, payload }));
  }
}

describe('simulator CoAP transport over DTLS (PSK)', () => {
  const server = new DtlsCoapPeer();
  before(() => server.open());
  after(() => server.close());

  const address = () => ({ host: '127.0.0.1', port: server.port });

  it('sends a CON request and takes the piggybacked answer over the session', async () => {
    server.answer = (request) => ({ code: CoapCode.CONTENT, payload: encoder.encode(`hello ${(request.options.uriPath ?? []).join('/')}`) });
    const transport = await CoapTransport.overDtls({ server: address(), identity: IDENTITY, key: KEY, handshakeTimeoutMs: 2000 });
    try {
      assert.ok(transport.port > 0);
      const response = await transport.request(address(), { code: CoapCode.GET, options: { uriPath: ['a', 'b'] } });
      assert.equal(formatCode(response.code), '2.05');
      assert.equal(decoder.decode(response.payload), 'hello a/b');
      assert.equal(server.requests.at(-1)?.peer.identity, IDENTITY);
    } finally {
      await transport.close();
    }
  });

  it('answers a request the server sends over the session', async () => {
    const seen: IncomingRequest[] = [];
    server.answer = () => ({ code: CoapCode.CHANGED });
    const transport = await CoapTransport.overDtls({
      server: address(),
      identity: IDENTITY,
      key: KEY,
      ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
      handshakeTimeoutMs: 2000,
    });
    transport.onRequest((request) => {
      seen.push(request);
      return { code: CoapCode.CONTENT, options: { contentFormat: ContentFormat.TEXT }, payload: encoder.encode('from the client') };
    });
    try {
      // The server learns the client's address from a first request.
      await transport.request(address(), { code: CoapCode.POST, options: { uriPath: ['bs'] } });
      const peer = server.requests.at(-1)!.peer;
      const answer = await server.request(peer, CoapCode.GET, { uriPath: ['3', '0'] });
      assert.equal(formatCode(answer.code), '2.05');
      assert.equal(decoder.decode(answer.payload), 'from the client');
      assert.deepEqual(seen.map((request) => request.message.options.uriPath), [['3', '0']]);
      assert.deepEqual(seen[0]!.peer, address(), 'requests come from the session server');
    } finally {
      await transport.close();
    }
  });

  it('fails the handshake with a wrong key as DtlsHandshakeError carrying the alert, not the key', async () => {
    const wrong = Uint8Array.from({ length: 16 }, () => 0x42);
    const error = await CoapTransport.overDtls({ server: address(), identity: IDENTITY, key: wrong, handshakeTimeoutMs: 3000 }).then(
      () => assert.fail('the handshake succeeded'),
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof DtlsHandshakeError);
    assert.equal(error.alert, 'decrypt_error', 'failed on the alert, not on the timeout');
    assert.match(error.message, /decrypt_error/);
    assert.doesNotMatch(error.message, /42424242/);
    assert.deepEqual(error.server, address());
  });

  it('fails an unknown identity and a suite the server lacks with an alert', async () => {
    const unknown = await CoapTransport.overDtls({ server: address(), identity: 'nobody', key: KEY, handshakeTimeoutMs: 3000 }).catch((reason: unknown) => reason);
    assert.ok(unknown instanceof DtlsHandshakeError);
    assert.notEqual(unknown.alert, undefined);
    const suite = await CoapTransport.overDtls({
      server: address(),
      identity: IDENTITY,
      key: KEY,
      ciphers: ['TLS_PSK_WITH_AES_256_CCM_8'],
      handshakeTimeoutMs: 3000,
    }).catch((reason: unknown) => reason);
    assert.ok(suite instanceof DtlsHandshakeError);
    assert.equal(suite.alert, 'handshake_failure');
  });

  it('gives up on a silent server after the handshake timeout', async () => {
    const silent = await CoapTransport.open({ host: '127.0.0.1' });
    try {
      const error = await CoapTransport.overDtls({ server: { host: '127.0.0.1', port: silent.port }, identity: IDENTITY, key: KEY, handshakeTimeoutMs: 200 }).catch(
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof DtlsHandshakeError);
      assert.equal(error.alert, undefined);
      assert.match(error.message, /no handshake within 200 ms/);
    } finally {
      await silent.close();
    }
  });

  it('closes with close_notify: the server forgets the session and requests are refused', async () => {
    server.answer = () => ({ code: CoapCode.CONTENT });
    const transport = await CoapTransport.overDtls({ server: address(), identity: IDENTITY, key: KEY, handshakeTimeoutMs: 2000 });
    await transport.request(address(), { code: CoapCode.GET, options: { uriPath: ['x'] } });
    const closedBefore = server.closedPeers.length;
    await transport.close();
    await transport.close();
    await assert.rejects(transport.request(address(), { code: CoapCode.GET, options: { uriPath: ['x'] } }), /transport closed/);
    for (let wait = 0; server.closedPeers.length === closedBefore && wait < 50; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(server.closedPeers.length, closedBefore + 1);
    assert.equal(server.closedPeers.at(-1)?.identity, IDENTITY);
  });
});

/** A Server Account at `uri` (NoSec), Short Server ID 1, as /0/1 and /1/0 in SenML JSON. */
function serverAccountWrites(uri: string): { path: string; payload: Uint8Array }[] {
  const security: ContentTree = [
    {
      id: 0,
      instances: [
        {
          id: 1,
          resources: [
            { kind: 'single', id: 0, value: stringValue(uri) },
            { kind: 'single', id: 1, value: booleanValue(false) },
            { kind: 'single', id: 2, value: integerValue(3) },
            { kind: 'single', id: 3, value: opaqueValue(EMPTY) },
            { kind: 'single', id: 4, value: opaqueValue(EMPTY) },
            { kind: 'single', id: 5, value: opaqueValue(EMPTY) },
            { kind: 'single', id: 10, value: integerValue(1) },
          ],
        },
      ],
    },
  ];
  const serverObject: ContentTree = [
    {
      id: 1,
      instances: [
        {
          id: 0,
          resources: [
            { kind: 'single', id: 0, value: integerValue(1) },
            { kind: 'single', id: 1, value: integerValue(300) },
            { kind: 'single', id: 6, value: booleanValue(false) },
            { kind: 'single', id: 7, value: stringValue('U') },
          ],
        },
      ],
    },
  ];
  return [
    { path: '/0/1', payload: encodeContent(ContentFormat.SENML_JSON, security, parsePath('/0/1')) },
    { path: '/1/0', payload: encodeContent(ContentFormat.SENML_JSON, serverObject, parsePath('/1/0')) },
  ];
}

describe('simulated client bootstrapping over DTLS (PSK)', () => {
  const server = new DtlsCoapPeer();
  before(() => server.open());
  after(() => server.close());

  /** Acknowledges the Bootstrap-Request, then Discover, writes a Server Account at `uri`, and Bootstrap-Finish. */
  const script = (uri: string) => {
    const answers: Record<string, CoapMessage> = {};
    let scripted: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      scripted = resolve;
    });
    server.answer = (_request, peer) => {
      setImmediate(() => {
        void (async () => {
          answers['discover'] = await server.request(peer, CoapCode.GET, { accept: ContentFormat.LINK_FORMAT });
          for (const write of serverAccountWrites(uri)) {
            answers[write.path] = await server.request(
              peer,
              CoapCode.PUT,
              { uriPath: write.path.split('/').slice(1), contentFormat: ContentFormat.SENML_JSON },
              write.payload,
            );
          }
          answers['finish'] = await server.request(peer, CoapCode.POST, { uriPath: ['bs'] });
          scripted();
        })();
      });
      return { code: CoapCode.CHANGED };
    };
    return { answers, done };
  };

  it('sends /bs without ep, answers Discover with its coaps PSK account, and finishes', async () => {
    const { answers, done } = script('coap://127.0.0.1:5683');
    const client = new SimulatedClient({
      endpoint: 'dtls-ep-1',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port: server.port },
      bootstrapPsk: { identity: IDENTITY, key: KEY },
      omitEndpointName: true,
      register: false,
      timeouts: { dtlsHandshakeMs: 2000, bootstrapIdleMs: 2000 },
    });
    const result = await client.run();
    await client.close();
    await done;
    assert.equal(result.error, undefined);
    assert.ok(result.ok);
    assert.deepEqual(result.steps.slice(0, 2), ['dtls-handshake', 'bootstrap-request']);
    assert.equal(result.steps.at(-1), 'finish');
    const discover = answers['discover'];
    const finish = answers['finish'];
    const request = server.requests.at(-1)!;
    assert.equal(request.peer.identity, IDENTITY);
    assert.deepEqual(request.message.options.uriPath, ['bs']);
    assert.deepEqual(request.message.options.uriQuery, ['pct=110'], 'no ep=');
    assert.equal(formatCode(discover!.code), '2.05');
    assert.match(decoder.decode(discover!.payload), new RegExp(`</0/0>;uri="coaps://127\\.0\\.0\\.1:${server.port}"`));
    assert.equal(formatCode(finish!.code), '2.04');
    assert.equal(formatCode(answers['/0/1']!.code), '2.04');
    assert.deepEqual(result.security[0], { instanceId: 0, bootstrapServer: true, uri: `coaps://127.0.0.1:${server.port}`, securityMode: 0 });
    const account = client.state().find((object) => object.id === 0)?.instances[0];
    const resource = (id: number) => account?.resources.find((entry) => entry.id === id);
    assert.deepEqual(resource(3), { kind: 'single', id: 3, value: { type: 'opaque', value: encoder.encode(IDENTITY) } });
    assert.deepEqual(resource(5), { kind: 'single', id: 5, value: { type: 'opaque', value: KEY } });
  });

  it('bootstraps to a coaps:// LwM2M server but does not register there (plain CoAP only)', async () => {
    const { answers, done } = script('coaps://127.0.0.1:5684');
    const client = new SimulatedClient({
      endpoint: 'dtls-ep-4',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port: server.port },
      bootstrapPsk: { identity: IDENTITY, key: KEY },
      timeouts: { dtlsHandshakeMs: 2000, bootstrapIdleMs: 2000 },
    });
    const result = await client.run();
    await client.close();
    await done;
    assert.equal(formatCode(answers['finish']!.code), '2.04');
    assert.equal(result.ok, false);
    assert.deepEqual(result.steps.slice(-2), ['finish', 'register']);
    assert.match(result.error ?? '', /plain CoAP only, not coaps:\/\//);
  });

  it('sends ep as before unless told to omit it', async () => {
    server.answer = () => ({ code: CoapCode.BAD_REQUEST });
    const client = new SimulatedClient({
      endpoint: 'dtls-ep-2',
      version: '1.0',
      bootstrapServer: { host: '127.0.0.1', port: server.port },
      bootstrapPsk: { identity: IDENTITY, key: KEY, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] },
      register: false,
      timeouts: { dtlsHandshakeMs: 2000 },
    });
    const result = await client.run();
    await client.close();
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /Bootstrap-Request answered 4\.00/);
    assert.deepEqual(server.requests.at(-1)?.message.options.uriQuery, ['ep=dtls-ep-2']);
  });

  it('reports a failed handshake in the result, without the key', async () => {
    const client = new SimulatedClient({
      endpoint: 'dtls-ep-3',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port: server.port },
      bootstrapPsk: { identity: IDENTITY, key: new Uint8Array(16) },
      register: false,
      timeouts: { dtlsHandshakeMs: 3000 },
    });
    const result = await client.run();
    await client.close();
    assert.equal(result.ok, false);
    assert.deepEqual(result.steps, ['dtls-handshake']);
    assert.match(result.error ?? '', /^DTLS handshake with 127\.0\.0\.1:\d+ failed: fatal alert decrypt_error$/);
  });
});
