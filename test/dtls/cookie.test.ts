import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '../fixtures/codec-assertions.ts';
import { COOKIE_LENGTH, HelloCookies } from '../../server/dtls/cookie.ts';
import type { ClientHello } from '../../server/dtls/handshake.ts';

const firstHello: ClientHello = {
  clientVersion: 0xfefd,
  random: hex('11'.repeat(32)),
  sessionId: new Uint8Array(0),
  cookie: new Uint8Array(0),
  cipherSuites: [0xc0a8, 0x00ae],
  compressionMethods: hex('00'),
  extensions: hex('0017 0000'),
};
const client = { address: '192.0.2.10', port: 5684 };
const secretA = hex('aa'.repeat(32));
const secretB = hex('bb'.repeat(32));
const secretC = hex('cc'.repeat(32));

/** The second ClientHello: the first one echoed with the cookie. */
const echo = (cookie: Uint8Array, hello: ClientHello = firstHello): ClientHello => ({ ...hello, cookie });

describe('HelloVerifyRequest cookies', () => {
  it('issues 32 bytes that verify for the same client and hello', () => {
    const cookies = new HelloCookies(secretA);
    const cookie = cookies.issue(client, firstHello);
    assert.equal(cookie.length, COOKIE_LENGTH);
    assert.ok(cookies.verify(client, echo(cookie)));
  });

  it('ignores the cookie field itself when computing', () => {
    const cookies = new HelloCookies(secretA);
    assert.deepEqual(cookies.issue(client, echo(hex('01'.repeat(32)))), cookies.issue(client, firstHello));
  });

  it('accepts a cookie from the previous secret after one rotation, not after two', () => {
    const cookies = new HelloCookies(secretA);
    const cookie = cookies.issue(client, firstHello);
    cookies.rotate(secretB);
    assert.ok(cookies.verify(client, echo(cookie)), 'previous secret');
    assert.ok(cookies.verify(client, echo(cookies.issue(client, firstHello))), 'current secret');
    cookies.rotate(secretC);
    assert.ok(!cookies.verify(client, echo(cookie)), 'two rotations ago');
  });

  it('rejects a different address or port', () => {
    const cookies = new HelloCookies(secretA);
    const cookie = cookies.issue(client, firstHello);
    assert.ok(!cookies.verify({ ...client, address: '192.0.2.11' }, echo(cookie)));
    assert.ok(!cookies.verify({ ...client, port: 5685 }, echo(cookie)));
    assert.ok(!cookies.verify({ address: '2001:db8::1', port: client.port }, echo(cookie)));
  });

  it('rejects a changed hello: random, suites, session id, extensions, version', () => {
    const cookies = new HelloCookies(secretA);
    const cookie = cookies.issue(client, firstHello);
    const changed: ClientHello[] = [
      { ...firstHello, random: hex('12', '11'.repeat(31)) },
      { ...firstHello, cipherSuites: [0xc0a8] },
      { ...firstHello, sessionId: hex('00') },
      { ...firstHello, extensions: undefined },
      { ...firstHello, extensions: new Uint8Array(0) },
      { ...firstHello, clientVersion: 0xfeff },
      { ...firstHello, compressionMethods: hex('00 01') },
    ];
    for (const hello of changed) assert.ok(!cookies.verify(client, echo(cookie, hello)));
  });

  it('rejects an empty, short, long or altered cookie and another server secret', () => {
    const cookies = new HelloCookies(secretA);
    const cookie = cookies.issue(client, firstHello);
    assert.ok(!cookies.verify(client, firstHello));
    assert.ok(!cookies.verify(client, echo(cookie.subarray(0, 31))));
    assert.ok(!cookies.verify(client, echo(new Uint8Array([...cookie, 0]))));
    const altered = cookie.slice();
    altered[31]! ^= 1;
    assert.ok(!cookies.verify(client, echo(altered)));
    assert.ok(!new HelloCookies(secretB).verify(client, echo(cookie)));
  });

  it('a default secret is random per instance', () => {
    const cookie = new HelloCookies().issue(client, firstHello);
    assert.ok(!new HelloCookies().verify(client, echo(cookie)));
  });
});
