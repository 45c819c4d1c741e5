import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoapCode, formatCode, serializeCoapMessage } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { ScriptedServer } from './scripted-server.ts';

describe('TestLwm2mServer', () => {
  let server: TestLwm2mServer;
  let raw: ScriptedServer;

  before(async () => {
    server = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    raw = await ScriptedServer.start();
  });

  after(async () => {
    await raw.close();
    await server.close();
  });

  const peer = () => ({ address: '127.0.0.1', port: server.port });
  const links = new TextEncoder().encode('</1/0>,</3/0>');

  it('registers a client: 2.01 with Location-Path rd/<n>', async () => {
    const waiting = server.waitFor('dev-1', 2000);
    const response = await raw.request(peer(), CoapCode.POST, { uriPath: ['rd'], uriQuery: ['ep=dev-1', 'lt=300', 'lwm2m=1.1', 'b=U'], contentFormat: ContentFormat.LINK_FORMAT }, links);
    assert.equal(formatCode(response.code), '2.01');
    assert.equal(response.options.locationPath?.[0], 'rd');
    const registration = await waiting;
    assert.deepEqual(registration, {
      endpoint: 'dev-1',
      lifetime: 300,
      version: '1.1',
      binding: 'U',
      objectLinks: ['/1/0', '/3/0'],
      location: response.options.locationPath?.join('/'),
      peer: `127.0.0.1:${raw.port}`,
    });
  });

  it('refuses a Register without an endpoint name, or with a broken payload, 4.00', async () => {
    const before = server.registrations().length;
    assert.equal(formatCode((await raw.request(peer(), CoapCode.POST, { uriPath: ['rd'], uriQuery: ['lt=300'] }, links)).code), '4.00');
    assert.equal(formatCode((await raw.request(peer(), CoapCode.POST, { uriPath: ['rd'], uriQuery: ['ep=x'] }, new TextEncoder().encode('</1/0'))).code), '4.00');
    assert.equal(server.registrations().length, before);
  });

  it('answers a retransmitted Register once, with the same location', async () => {
    const messageId = raw.nextMessageId();
    const bytes = serializeCoapMessage({ type: 'CON', code: CoapCode.POST, messageId, token: Uint8Array.of(1, 2), options: { uriPath: ['rd'], uriQuery: ['ep=dup'] }, payload: links });
    const first = await raw.sendAndAwait(bytes, messageId, peer());
    const second = await raw.sendAndAwait(bytes, messageId, peer());
    assert.deepEqual(second.options.locationPath, first.options.locationPath);
    assert.equal(server.registrations().filter((registration) => registration.endpoint === 'dup').length, 1);
  });

  it('handles Update and De-register at the location', async () => {
    const created = await raw.request(peer(), CoapCode.POST, { uriPath: ['rd'], uriQuery: ['ep=dev-2'] }, links);
    const location = created.options.locationPath!;
    assert.equal(formatCode((await raw.request(peer(), CoapCode.POST, { uriPath: [...location] })).code), '2.04');
    assert.equal(formatCode((await raw.request(peer(), CoapCode.DELETE, { uriPath: [...location] })).code), '2.02');
    assert.equal(server.registrations().some((registration) => registration.endpoint === 'dev-2'), false);
    assert.equal(formatCode((await raw.request(peer(), CoapCode.DELETE, { uriPath: [...location] })).code), '4.04');
  });

  it('waitFor rejects when the endpoint does not register in time', async () => {
    await assert.rejects(server.waitFor('never', 50), /never did not register/);
  });
});
