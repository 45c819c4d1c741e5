import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { CoapCode } from '../../shared/coap/code.ts';
import { parseCoapMessage, serializeCoapMessage } from '../../shared/coap/message.ts';
import type { CoapMessage } from '../../shared/coap/message.ts';
import type { CoapType } from '../../shared/coap/header.ts';
import type { CoapOptions } from '../../shared/coap/option.ts';
import { uriPathString } from '../../shared/coap/uri.ts';
import { CoapEndpoint } from '../../server/coap/endpoint.ts';
import type { CoapEndpointOptions, CoapPeer, IncomingRequest, OutgoingResponse } from '../../server/coap/endpoint.ts';
import { CoapClosedError, CoapTimeoutError } from '../../server/coap/errors.ts';

// Real UDP on loopback: the endpoint against raw dgram peers that play the client byte by byte.

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const EMPTY = new Uint8Array(0);

/** A hand-driven CoAP peer: sends what the test builds, queues what it receives. */
class RawPeer {
  readonly socket: Socket;
  readonly family: 'IPv4' | 'IPv6';
  readonly #queue: { message: CoapMessage; raw: Uint8Array }[] = [];
  #waiter: (() => void) | undefined;

  private constructor(socket: Socket, family: 'IPv4' | 'IPv6') {
    this.socket = socket;
    this.family = family;
    socket.on('message', (datagram) => {
      const raw = new Uint8Array(datagram);
      this.#queue.push({ message: parseCoapMessage(raw), raw });
      this.#waiter?.();
    });
  }

  static async open(family: 'IPv4' | 'IPv6' = 'IPv4'): Promise<RawPeer> {
    const socket = createSocket(family === 'IPv4' ? 'udp4' : 'udp6');
    await new Promise<void>((resolve) => socket.bind(0, family === 'IPv4' ? '127.0.0.1' : '::1', resolve));
    return new RawPeer(socket, family);
  }

  get peer(): CoapPeer {
    const { address, port } = this.socket.address();
    return { address, port, family: this.family };
  }

  send(to: CoapEndpoint, message: CoapMessage | Uint8Array): void {
    const bytes = message instanceof Uint8Array ? message : serializeCoapMessage(message);
    const target = to.address(this.family)!;
    this.socket.send(bytes, target.port, this.family === 'IPv4' ? '127.0.0.1' : '::1');
  }

  async next(timeoutMs = 2000): Promise<CoapMessage> {
    return (await this.#take(timeoutMs)).message;
  }

  /** The next datagram's bytes, for "the very same reply" checks. */
  async nextRaw(timeoutMs = 2000): Promise<Uint8Array> {
    return (await this.#take(timeoutMs)).raw;
  }

  async #take(timeoutMs: number): Promise<{ message: CoapMessage; raw: Uint8Array }> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no datagram received');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift()!;
  }

  async silence(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.equal(this.#queue.length, 0, `expected nothing, got ${JSON.stringify(this.#queue.map(({ message }) => [message.type, message.code]))}`);
  }

  close(): void {
    this.socket.close();
  }
}

let nextId = 0x100;
function message(type: CoapType, code: number, options: CoapOptions = {}, payload: Uint8Array = EMPTY, token: Uint8Array = Uint8Array.of(0xa1, 0xb2)): CoapMessage {
  return { type, code, messageId: nextId++, token, options, payload };
}

const open: CoapEndpoint[] = [];
const peers: RawPeer[] = [];
after(async () => {
  for (const peer of peers) peer.close();
  await Promise.all(open.map((endpoint) => endpoint.close()));
});

async function endpoint(options: Partial<CoapEndpointOptions> & Pick<CoapEndpointOptions, 'onRequest'>): Promise<CoapEndpoint> {
  const created = await CoapEndpoint.open({ port: 0, host4: '127.0.0.1', host6: false, ...options });
  open.push(created);
  return created;
}

async function rawPeer(family: 'IPv4' | 'IPv6' = 'IPv4'): Promise<RawPeer> {
  const peer = await RawPeer.open(family);
  peers.push(peer);
  return peer;
}

/** A handler that records what it saw and answers 2.05 with the path as text. */
function recordingHandler(seen: IncomingRequest[], answer?: (request: IncomingRequest) => OutgoingResponse): CoapEndpointOptions['onRequest'] {
  return (request) => {
    seen.push(request);
    return answer?.(request) ?? { code: CoapCode.CONTENT, contentFormat: 0, payload: text(uriPathString(request.message.options)) };
  };
}

async function ipv6Available(): Promise<boolean> {
  const socket = createSocket({ type: 'udp6', ipv6Only: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      socket.close();
    } catch {
      // never bound
    }
  }
}

describe('CoapEndpoint serving requests', () => {
  it('answers a CON request in a piggybacked ACK with the same Message ID and token', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen) });
    const client = await rawPeer();
    const request = message('CON', CoapCode.GET, { uriPath: ['3', '0'], uriHost: 'example.net', uriPort: 5683 });
    client.send(server, request);
    const response = await client.next();
    assert.equal(response.type, 'ACK');
    assert.equal(response.code, CoapCode.CONTENT);
    assert.equal(response.messageId, request.messageId);
    assert.deepEqual(response.token, request.token);
    assert.equal(new TextDecoder().decode(response.payload), '/3/0');
    assert.equal(response.options.contentFormat, 0);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.peer, client.peer);
    assert.equal(server.counters().piggybacked, 1);
  });

  it('answers a NON request with a NON response carrying the token', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]) });
    const client = await rawPeer();
    const request = message('NON', CoapCode.GET, { uriPath: ['x'] });
    client.send(server, request);
    const response = await client.next();
    assert.equal(response.type, 'NON');
    assert.equal(response.code, CoapCode.CONTENT);
    assert.deepEqual(response.token, request.token);
    assert.equal(server.counters().nonResponses, 1);
  });

  it('answers a duplicate CON from the cache without calling the handler again', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await endpoint({
      onRequest: async () => {
        calls += 1;
        await gate;
        return { code: CoapCode.CHANGED, payload: text(`call ${calls}`) };
      },
    });
    const client = await rawPeer();
    const request = message('CON', CoapCode.POST, { uriPath: ['bs'], uriQuery: ['ep=dup'] });
    client.send(server, request);
    client.send(server, request); // while the handler is still running: ignored
    await new Promise((resolve) => setTimeout(resolve, 30));
    release();
    const first = await client.nextRaw();
    assert.equal(parseCoapMessage(first).code, CoapCode.CHANGED);
    client.send(server, request); // after: the same bytes again
    const second = await client.nextRaw();
    assert.deepEqual(second, first);
    await client.silence(50);
    assert.equal(calls, 1);
    assert.equal(server.counters().duplicates, 2);
  });

  it('counts malformed datagrams, resets a broken CON, drops the rest, and keeps serving', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]) });
    const client = await rawPeer();
    client.send(server, Uint8Array.of(0x40, 0x01)); // truncated header
    client.send(server, Uint8Array.of(0x50, 0x01, 0x00, 0x07, 0xf1, 0x00)); // NON, option delta 15
    client.send(server, Uint8Array.of(0x80, 0x01, 0x00, 0x08)); // version 2
    client.send(server, Uint8Array.of(0x40, 0x01, 0x12, 0x34, 0xf1, 0x00)); // CON, option delta 15
    const reset = await client.next();
    assert.equal(reset.type, 'RST');
    assert.equal(reset.code, CoapCode.EMPTY);
    assert.equal(reset.messageId, 0x1234);
    client.send(server, Uint8Array.of(0x49, 0x01, 0x43, 0x21)); // CON, token length 9
    assert.equal((await client.next()).messageId, 0x4321);
    await client.silence(30);
    assert.equal(server.counters().malformed, 5);
    assert.equal(server.counters().resetSent, 2);

    client.send(server, message('CON', CoapCode.GET, { uriPath: ['still'] }));
    assert.equal((await client.next()).code, CoapCode.CONTENT);
  });

  it('answers an unrecognized critical option with 4.02 without calling the handler', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen) });
    const client = await rawPeer();
    client.send(server, message('CON', CoapCode.GET, { uriPath: ['a'], others: [{ number: 2049, value: Uint8Array.of(1) }] }));
    const response = await client.next();
    assert.equal(response.type, 'ACK');
    assert.equal(response.code, CoapCode.BAD_OPTION);
    // An elective unknown option is ignored.
    client.send(server, message('CON', CoapCode.GET, { uriPath: ['b'], others: [{ number: 2048, value: Uint8Array.of(1) }] }));
    assert.equal((await client.next()).code, CoapCode.CONTENT);
    assert.equal(seen.length, 1);
    assert.equal(server.counters().badOption, 1);
  });

  it('answers a CoAP ping with a Reset and a handler failure with 5.00', async () => {
    const server = await endpoint({
      onRequest: () => {
        throw new Error('boom');
      },
    });
    const client = await rawPeer();
    const ping = message('CON', CoapCode.EMPTY, {}, EMPTY, EMPTY);
    client.send(server, ping);
    const reset = await client.next();
    assert.equal(reset.type, 'RST');
    assert.equal(reset.messageId, ping.messageId);
    client.send(server, message('CON', CoapCode.GET));
    assert.equal((await client.next()).code, CoapCode.INTERNAL_SERVER_ERROR);
    assert.equal(server.counters().handlerErrors, 1);
  });

  it('resets a CON response to an unknown token and drops a NON one', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]) });
    const client = await rawPeer();
    const stray = message('CON', CoapCode.CONTENT, {}, text('?'));
    client.send(server, stray);
    const reset = await client.next();
    assert.equal(reset.type, 'RST');
    assert.equal(reset.messageId, stray.messageId);
    client.send(server, message('NON', CoapCode.CONTENT, {}, text('?')));
    await client.silence(30);
    assert.equal(server.counters().unknownResponses, 2);
  });

  it('drops requests over the rate limit without answering', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen), rateLimit: { perSecond: 0.001, burst: 3 } });
    const client = await rawPeer();
    for (let index = 0; index < 10; index++) client.send(server, message('NON', CoapCode.GET, { uriPath: [`${index}`] }));
    for (let index = 0; index < 3; index++) await client.next();
    await client.silence(50);
    assert.equal(seen.length, 3);
    assert.equal(server.counters().rateLimited, 7);
  });

  it('keeps at most maxPeers peers, dropping the least recently seen', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen), maxPeers: 2 });
    const clients = [await rawPeer(), await rawPeer(), await rawPeer()];
    for (const client of clients) {
      client.send(server, message('CON', CoapCode.GET));
      await client.next();
    }
    assert.equal(server.counters().peers, 2);
    assert.equal(server.counters().peerEvictions, 1);
  });
});

describe('CoapEndpoint Block2 and Block1 as a server', () => {
  const body = Uint8Array.from({ length: 300 }, (_, index) => index & 0xff);

  it('serves a large response in the blocks the client asks for, calling the handler once', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen, () => ({ code: CoapCode.CONTENT, contentFormat: 112, payload: body })) });
    const client = await rawPeer();
    const received: Uint8Array[] = [];
    for (let num = 0; ; num++) {
      client.send(server, message('CON', CoapCode.GET, { uriPath: ['bspack'], uriQuery: ['ep=x'], block2: { num, more: false, size: 64 } }));
      const response = await client.next();
      assert.equal(response.code, CoapCode.CONTENT);
      assert.equal(response.options.contentFormat, 112);
      assert.equal(response.options.block2?.num, num);
      if (num === 0) assert.equal(response.options.size2, body.length);
      received.push(response.payload);
      if (!response.options.block2!.more) break;
    }
    assert.equal(received.length, 5);
    assert.deepEqual(Buffer.concat(received), Buffer.from(body));
    assert.equal(seen.length, 1);
    client.send(server, message('CON', CoapCode.GET, { uriPath: ['bspack'], uriQuery: ['ep=x'], block2: { num: 9, more: false, size: 64 } }));
    assert.equal((await client.next()).code, CoapCode.BAD_OPTION);
  });

  it('reassembles a Block1 request, asking for smaller blocks, and rejects an oversized one', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ blockSize: 32, maxRequestBodySize: 200, onRequest: recordingHandler(seen, () => ({ code: CoapCode.CHANGED })) });
    const client = await rawPeer();
    const put = (num: number, size: 16 | 32 | 64, data: Uint8Array): CoapMessage => {
      const chunk = data.subarray(num * size, num * size + size);
      return message('CON', CoapCode.PUT, { uriPath: ['1', '0'], block1: { num, more: (num + 1) * size < data.length, size } }, chunk);
    };
    const data = body.subarray(0, 100);
    client.send(server, put(0, 64, data));
    const first = await client.next();
    assert.equal(first.code, CoapCode.CONTINUE);
    assert.deepEqual(first.options.block1, { num: 0, more: true, size: 32 });
    // Continue at 32 bytes from offset 64: block 2.
    for (const num of [2, 3]) {
      client.send(server, put(num, 32, data));
      const response = await client.next();
      assert.equal(response.code, num === 3 ? CoapCode.CHANGED : CoapCode.CONTINUE);
    }
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.message.payload, data);
    assert.equal(seen[0]!.message.options.block1, undefined);

    const big = body.subarray(0, 260);
    for (let num = 0; num < 7; num++) client.send(server, put(num, 32, big));
    const codes = [];
    for (let num = 0; num < 7; num++) codes.push((await client.next()).code);
    assert.equal(codes.at(-1), CoapCode.REQUEST_ENTITY_TOO_LARGE);
    assert.equal(seen.length, 1);
  });
});

describe('CoapEndpoint requests to a client', () => {
  it('retransmits a CON with backoff until acknowledged', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]), ackTimeoutMs: 30 });
    const client = await rawPeer();
    const pending = server.request(client.peer, { method: 'GET', path: '/1/0/1', accept: 11542 });
    const transmissions = [await client.next(), await client.next(), await client.next()];
    for (const sent of transmissions) {
      assert.equal(sent.type, 'CON');
      assert.equal(sent.messageId, transmissions[0]!.messageId);
      assert.deepEqual(sent.token, transmissions[0]!.token);
    }
    assert.equal(transmissions[0]!.token.length, 8);
    assert.deepEqual(transmissions[0]!.options.uriPath, ['1', '0', '1']);
    const last = transmissions[2]!;
    client.send(server, { type: 'ACK', code: CoapCode.CONTENT, messageId: last.messageId, token: last.token, options: { contentFormat: 11542 }, payload: text('v') });
    const response = await pending;
    assert.equal(response.code, CoapCode.CONTENT);
    assert.equal(response.contentFormat, 11542);
    assert.equal(new TextDecoder().decode(response.payload), 'v');
    assert.equal(server.counters().retransmissions, 2);
  });

  it('gives up with CoapTimeoutError after MAX_RETRANSMIT', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]), ackTimeoutMs: 10, maxRetransmit: 2 });
    const client = await rawPeer();
    await assert.rejects(server.request(client.peer, { method: 'DELETE', path: '/0' }), CoapTimeoutError);
    for (let index = 0; index < 3; index++) assert.equal((await client.next()).code, CoapCode.DELETE);
    await client.silence(30);
    assert.equal(server.counters().timeouts, 1);
  });

  it('takes a separate response after an empty ACK, acknowledges it, and acknowledges its duplicate', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]), ackTimeoutMs: 30 });
    const client = await rawPeer();
    const pending = server.request(client.peer, { method: 'POST', path: '/bs' });
    const sent = await client.next();
    client.send(server, { type: 'ACK', code: CoapCode.EMPTY, messageId: sent.messageId, token: EMPTY, options: {}, payload: EMPTY });
    await client.silence(100); // no retransmission once acknowledged
    const separate = message('CON', CoapCode.CHANGED, {}, EMPTY, sent.token);
    client.send(server, separate);
    const ack = await client.next();
    assert.equal(ack.type, 'ACK');
    assert.equal(ack.code, CoapCode.EMPTY);
    assert.equal(ack.messageId, separate.messageId);
    assert.equal((await pending).code, CoapCode.CHANGED);
    client.send(server, separate);
    assert.equal((await client.next()).type, 'ACK');
    assert.equal(server.counters().separateResponses, 1);
  });

  it('treats a client request that reuses our Message ID and token as a request', async () => {
    const seen: IncomingRequest[] = [];
    const server = await endpoint({ onRequest: recordingHandler(seen, () => ({ code: CoapCode.CHANGED })), ackTimeoutMs: 500 });
    const client = await rawPeer();
    const pending = server.request(client.peer, { method: 'GET', path: '/3/0' });
    const ours = await client.next();
    client.send(server, { type: 'CON', code: CoapCode.POST, messageId: ours.messageId, token: ours.token, options: { uriPath: ['bs'], uriQuery: ['ep=x'] }, payload: EMPTY });
    const answer = await client.next();
    assert.equal(answer.type, 'ACK');
    assert.equal(answer.code, CoapCode.CHANGED);
    assert.equal(answer.messageId, ours.messageId);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.message.options.uriPath, ['bs']);
    client.send(server, { type: 'ACK', code: CoapCode.CONTENT, messageId: ours.messageId, token: ours.token, options: {}, payload: text('dev') });
    const response = await pending;
    assert.equal(response.code, CoapCode.CONTENT);
    assert.equal(new TextDecoder().decode(response.payload), 'dev');
  });

  it('sends Block1 and restarts with the smaller size a 4.13 names, then follows a smaller 2.31', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]), blockSize: 64 });
    const client = await rawPeer();
    const payload = Uint8Array.from({ length: 200 }, (_, index) => (index * 7) & 0xff);
    const pending = server.request(client.peer, { method: 'PUT', path: '/0/1', contentFormat: 11542, payload });
    const first = await client.next();
    assert.deepEqual(first.options.block1, { num: 0, more: true, size: 64 });
    assert.equal(first.options.size1, 200);
    client.send(server, { type: 'ACK', code: CoapCode.REQUEST_ENTITY_TOO_LARGE, messageId: first.messageId, token: first.token, options: { block1: { num: 0, more: false, size: 32 } }, payload: EMPTY });
    const received = new Uint8Array(200);
    const sizes: number[] = [];
    for (;;) {
      const block = await client.next();
      const option = block.options.block1!;
      sizes.push(option.size);
      assert.equal(block.options.contentFormat, 11542);
      received.set(block.payload, option.num * option.size);
      if (!option.more) {
        client.send(server, { type: 'ACK', code: CoapCode.CHANGED, messageId: block.messageId, token: block.token, options: { block1: option }, payload: EMPTY });
        break;
      }
      // After two blocks of 32, ask for 16.
      const size = option.num >= 1 ? 16 : option.size;
      client.send(server, { type: 'ACK', code: CoapCode.CONTINUE, messageId: block.messageId, token: block.token, options: { block1: { ...option, size } }, payload: EMPTY });
    }
    assert.equal((await pending).code, CoapCode.CHANGED);
    assert.deepEqual(received, payload);
    assert.deepEqual(sizes.slice(0, 3), [32, 32, 16]);
    assert.ok(sizes.slice(2).every((size) => size === 16));
  });

  it('resends a body under its block size in blocks when the client answers 4.13 naming a smaller size', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]) });
    const client = await rawPeer();
    const payload = Uint8Array.from({ length: 600 }, (_, index) => (index * 11) & 0xff);
    const pending = server.request(client.peer, { method: 'PUT', path: '/0/1', contentFormat: 11542, payload });
    const whole = await client.next();
    assert.equal(whole.options.block1, undefined);
    assert.equal(whole.payload.length, 600);
    client.send(server, { type: 'ACK', code: CoapCode.REQUEST_ENTITY_TOO_LARGE, messageId: whole.messageId, token: whole.token, options: { block1: { num: 0, more: false, size: 256 } }, payload: EMPTY });
    const received: number[] = [];
    for (;;) {
      const block = await client.next();
      const option = block.options.block1!;
      assert.equal(option.size, 256);
      received.push(...block.payload);
      const code = option.more ? CoapCode.CONTINUE : CoapCode.CHANGED;
      client.send(server, { type: 'ACK', code, messageId: block.messageId, token: block.token, options: { block1: option }, payload: EMPTY });
      if (!option.more) break;
    }
    assert.equal((await pending).code, CoapCode.CHANGED);
    assert.deepEqual(Uint8Array.from(received), payload);
  });

  it('fetches and reassembles a Block2 response from another endpoint, which serves it from its cache', async () => {
    const body = Uint8Array.from({ length: 3000 }, (_, index) => (index * 13) & 0xff);
    const seen: IncomingRequest[] = [];
    const origin = await endpoint({ onRequest: recordingHandler(seen, () => ({ code: CoapCode.CONTENT, contentFormat: 112, payload: body })), blockSize: 256 });
    const fetcher = await endpoint({ onRequest: recordingHandler([]) });
    const response = await fetcher.request({ ...origin.address('IPv4')!, family: 'IPv4' }, { method: 'GET', path: '/bspack', query: ['ep=x'] });
    assert.equal(response.code, CoapCode.CONTENT);
    assert.equal(response.contentFormat, 112);
    assert.deepEqual(response.payload, body);
    assert.equal(seen.length, 1);
    assert.equal(origin.counters().block2Served, Math.ceil(3000 / 256));
  });

  it('sends a large PUT to another endpoint, which reassembles it for its handler', async () => {
    const body = Uint8Array.from({ length: 2500 }, (_, index) => (index * 5) & 0xff);
    const seen: IncomingRequest[] = [];
    const target = await endpoint({ onRequest: recordingHandler(seen, () => ({ code: CoapCode.CHANGED })), blockSize: 128 });
    const sender = await endpoint({ onRequest: recordingHandler([]), blockSize: 512 });
    const response = await sender.request({ ...target.address('IPv4')!, family: 'IPv4' }, { method: 'PUT', path: '/0', contentFormat: 11542, payload: body });
    assert.equal(response.code, CoapCode.CHANGED);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.message.payload, body);
    assert.equal(seen[0]!.message.options.contentFormat, 11542);
    // One 512-byte block answered with 2.31 at 128, then 1988 bytes in 16 blocks of 128, the last final.
    assert.equal(target.counters().block1Continue, 1 + 15);
  });

  it('rejects pending requests on abort and on close', async () => {
    const server = await endpoint({ onRequest: recordingHandler([]) });
    const client = await rawPeer();
    const controller = new AbortController();
    const aborted = server.request(client.peer, { method: 'GET', path: '/' }, { signal: controller.signal });
    await client.next();
    controller.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    const closing = server.request(client.peer, { method: 'GET', path: '/' });
    await client.next();
    await server.close();
    await assert.rejects(closing, CoapClosedError);
    assert.equal(server.address('IPv4'), undefined);
  });
});

describe('CoapEndpoint over IPv6', () => {
  it('warns and keeps serving IPv4 when the IPv6 address cannot be bound', async () => {
    const warnings: string[] = [];
    const server = await endpoint({ host6: '2001:db8::1', onRequest: recordingHandler([]), onWarning: (warning) => warnings.push(warning) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /IPv6 disabled/);
    assert.equal(server.address('IPv6'), undefined);
    const client = await rawPeer();
    client.send(server, message('CON', CoapCode.GET));
    assert.equal((await client.next()).code, CoapCode.CONTENT);
  });

  it('serves and sends requests on ::1 when the host has IPv6', async (context) => {
    if (!(await ipv6Available())) {
      context.skip('no IPv6 on this host');
      return;
    }
    const warnings: string[] = [];
    const server = await endpoint({ host4: '127.0.0.1', host6: '::1', onRequest: recordingHandler([]), onWarning: (warning) => warnings.push(warning) });
    assert.deepEqual(warnings, []);
    assert.equal(server.address('IPv6')!.port, server.address('IPv4')!.port);
    const client = await rawPeer('IPv6');
    client.send(server, message('CON', CoapCode.GET, { uriPath: ['six'] }));
    const response = await client.next();
    assert.equal(new TextDecoder().decode(response.payload), '/six');
    const pending = server.request(client.peer, { method: 'GET', path: '/3' });
    const sent = await client.next();
    client.send(server, { type: 'ACK', code: CoapCode.CONTENT, messageId: sent.messageId, token: sent.token, options: {}, payload: text('6') });
    assert.equal(new TextDecoder().decode((await pending).payload), '6');
  });
});
