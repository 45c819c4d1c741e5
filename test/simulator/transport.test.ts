import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoapCode, formatCode, serializeCoapMessage, type CoapOptions } from '../../shared/coap/index.ts';
import { CoapTimeoutError, CoapTransport, type IncomingRequest } from '../../simulator/transport.ts';
import { ScriptedServer } from './scripted-server.ts';

// The simulator's CoAP peer against a raw dgram socket that speaks only shared/coap.
describe('simulator CoAP transport: serving requests', () => {
  let transport: CoapTransport;
  let raw: ScriptedServer;
  const seen: IncomingRequest[] = [];
  let answer: (request: IncomingRequest) => { code: number; payload?: Uint8Array } = () => ({ code: CoapCode.CHANGED });

  before(async () => {
    transport = await CoapTransport.open({ host: '127.0.0.1' });
    transport.onRequest((request) => {
      seen.push(request);
      return answer(request);
    });
    raw = await ScriptedServer.start();
  });

  after(async () => {
    await transport.close();
    await raw.close();
  });

  const peer = () => ({ address: '127.0.0.1', port: transport.port });
  const put = (options: CoapOptions, payload: Uint8Array) => raw.request(peer(), CoapCode.PUT, { uriPath: ['0', '1'], ...options }, payload);

  it('reassembles a Block1 write, answering 2.31 until the last block', async () => {
    seen.length = 0;
    const body = Uint8Array.from({ length: 40 }, (_, index) => index);
    const first = await put({ block1: { num: 0, more: true, size: 16 } }, body.subarray(0, 16));
    assert.equal(formatCode(first.code), '2.31');
    assert.deepEqual(first.options.block1, { num: 0, more: true, size: 16 });
    assert.equal(formatCode((await put({ block1: { num: 1, more: true, size: 16 } }, body.subarray(16, 32))).code), '2.31');
    const last = await put({ block1: { num: 2, more: false, size: 16 } }, body.subarray(32));
    assert.equal(formatCode(last.code), '2.04');
    assert.deepEqual(last.options.block1, { num: 2, more: false, size: 16 });
    assert.equal(seen.length, 1, 'the handler sees the whole body once');
    assert.deepEqual(seen[0]!.payload, body);
  });

  it('answers a Block1 block out of sequence 4.08', async () => {
    const response = await put({ block1: { num: 3, more: true, size: 16 } }, new Uint8Array(16));
    assert.equal(formatCode(response.code), '4.08');
  });

  it('answers a duplicate CON with the same answer, without handling it again', async () => {
    seen.length = 0;
    const messageId = raw.nextMessageId();
    const bytes = serializeCoapMessage({ type: 'CON', code: CoapCode.DELETE, messageId, token: Uint8Array.of(7), options: { uriPath: ['1'] }, payload: new Uint8Array(0) });
    const first = await raw.sendAndAwait(bytes, messageId, peer());
    const second = await raw.sendAndAwait(bytes, messageId, peer());
    assert.deepEqual(second, first);
    assert.equal(seen.length, 1);
  });

  it('answers a request whose options do not parse 4.00, and a broken response with a Reset', async () => {
    const messageId = raw.nextMessageId();
    // GET, option delta nibble 15 is reserved.
    const broken = Uint8Array.of(0x41, CoapCode.GET, messageId >> 8, messageId & 0xff, 0x09, 0xf1, 0x00);
    const answer400 = await raw.sendAndAwait(broken, messageId, peer());
    assert.equal(answer400.type, 'ACK');
    assert.equal(formatCode(answer400.code), '4.00');
    assert.deepEqual(answer400.token, Uint8Array.of(0x09));
    const otherId = raw.nextMessageId();
    const brokenResponse = Uint8Array.of(0x40, CoapCode.CONTENT, otherId >> 8, otherId & 0xff, 0xf1, 0x00);
    const reset = await raw.sendAndAwait(brokenResponse, otherId, peer());
    assert.equal(reset.type, 'RST');
  });

  it('serves a large answer in Block2 blocks', async () => {
    const body = Uint8Array.from({ length: 1500 }, (_, index) => index & 0xff);
    answer = () => ({ code: CoapCode.CONTENT, payload: body });
    try {
      const first = await raw.request(peer(), CoapCode.GET, { uriPath: ['1'] });
      assert.deepEqual(first.options.block2, { num: 0, more: true, size: 1024 });
      assert.equal(first.options.size2, 1500);
      const second = await raw.request(peer(), CoapCode.GET, { uriPath: ['1'], block2: { num: 1, more: false, size: 1024 } });
      assert.deepEqual(second.options.block2, { num: 1, more: false, size: 1024 });
      assert.deepEqual(new Uint8Array([...first.payload, ...second.payload]), body);
    } finally {
      answer = () => ({ code: CoapCode.CHANGED });
    }
  });
});

describe('simulator CoAP transport: sending requests', () => {
  let raw: ScriptedServer;
  before(async () => {
    raw = await ScriptedServer.start();
  });
  after(async () => {
    await raw.close();
  });

  const target = () => ({ host: '127.0.0.1', port: raw.port });

  it('retransmits a CON with the same Message ID until it is answered', async () => {
    const transport = await CoapTransport.open({ host: '127.0.0.1', transmission: { ackTimeoutMs: 20, maxRetransmit: 4 } });
    try {
      const response = transport.request(target(), { code: CoapCode.POST, options: { uriPath: ['bs'] } });
      const copies = [await raw.nextRequest(), await raw.nextRequest(), await raw.nextRequest()];
      assert.equal(new Set(copies.map((copy) => copy.message.messageId)).size, 1);
      raw.reply(copies[2]!, CoapCode.CHANGED);
      assert.equal(formatCode((await response).code), '2.04');
    } finally {
      await transport.close();
    }
  });

  it('gives up after MAX_RETRANSMIT retransmissions', async () => {
    const transport = await CoapTransport.open({ host: '127.0.0.1', transmission: { ackTimeoutMs: 10, maxRetransmit: 2 } });
    try {
      await assert.rejects(transport.request(target(), { code: CoapCode.GET }), CoapTimeoutError);
      const copies = [await raw.nextRequest(), await raw.nextRequest(), await raw.nextRequest()];
      assert.equal(copies.length, 3);
      await assert.rejects(raw.nextRequest(50));
    } finally {
      await transport.close();
    }
  });

  it('takes a separate response after an empty ACK and acknowledges it', async () => {
    const transport = await CoapTransport.open({ host: '127.0.0.1', transmission: { ackTimeoutMs: 50 } });
    try {
      const response = transport.request(target(), { code: CoapCode.POST, options: { uriPath: ['bs'] } });
      const request = await raw.nextRequest();
      raw.sendRaw(serializeCoapMessage({ type: 'ACK', code: CoapCode.EMPTY, messageId: request.message.messageId, token: new Uint8Array(0), options: {}, payload: new Uint8Array(0) }), request.peer);
      await new Promise((resolve) => setTimeout(resolve, 120));
      const separateId = raw.nextMessageId();
      const separate = serializeCoapMessage({ type: 'CON', code: CoapCode.CHANGED, messageId: separateId, token: request.message.token, options: {}, payload: new Uint8Array(0) });
      const ack = await raw.sendAndAwait(separate, separateId, request.peer);
      assert.equal(ack.type, 'ACK');
      assert.equal(ack.code, CoapCode.EMPTY);
      assert.equal(formatCode((await response).code), '2.04');
      assert.equal(raw.received.filter((message) => message.messageId === request.message.messageId && message.code === CoapCode.POST).length, 1, 'no retransmission after the empty ACK');
    } finally {
      await transport.close();
    }
  });
});

describe('simulator CoAP transport over IPv6', () => {
  it('exchanges a request and its answer on ::1', async () => {
    const raw = await ScriptedServer.start('::1');
    const transport = await CoapTransport.forPeer({ host: '::1', port: raw.port });
    try {
      const response = transport.request({ host: '::1', port: raw.port }, { code: CoapCode.GET, options: { uriPath: ['x'] } });
      const request = await raw.nextRequest();
      assert.equal(request.peer.address, '::1');
      raw.reply(request, CoapCode.CONTENT, {}, Uint8Array.of(42));
      assert.deepEqual((await response).payload, Uint8Array.of(42));
    } finally {
      await transport.close();
      await raw.close();
    }
  });
});
