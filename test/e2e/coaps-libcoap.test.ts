import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { decodeContent } from '../../shared/content/registry.ts';
import { flattenTree } from '../../shared/content/tree.ts';
import { formatPath, ROOT_PATH } from '../../shared/lwm2m/path.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

const run = promisify(execFile);

/**
 * libcoap takes the key as text (`-k`): the device's key is that text's bytes. Random text, so
 * the key is high entropy: a low one would be replaced, which these profiles cannot do.
 */
const KEY_TEXT = randomBytes(24).toString('base64url');
const KEY_HEX = Buffer.from(KEY_TEXT).toString('hex');

// libcoap's clients over two independent DTLS stacks (Debian libcoap3-bin, installed by .ci/run).
const CLIENTS = ['coap-client-openssl', 'coap-client-gnutls'] as const;

interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function coapsClient(client: string, identity: string, key: string, ...args: string[]): Promise<ClientRun> {
  try {
    const { stdout, stderr } = await run(client, ['-B', '4', '-u', identity, '-k', key, ...args], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

function packValues(payload: Uint8Array): Map<string, unknown> {
  return new Map(flattenTree(decodeContent(ContentFormat.SENML_CBOR, payload, ROOT_PATH)).map(({ path, value }) => [formatPath(path), value]));
}

// The server offers one suite at a time, so each client must negotiate that suite.
const SUITES = [
  { name: 'TLS_PSK_WITH_AES_128_CCM_8', id: 0xc0a8 },
  { name: 'TLS_PSK_WITH_AES_128_CBC_SHA256', id: 0x00ae },
] as const;

for (const suite of SUITES) describe(`coaps with ${suite.name}: libcoap clients over OpenSSL and GnuTLS bootstrap through the DTLS gateway`, () => {
  let server: LocalServer;
  let base: string;
  let workDir: string;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-coaps-'));
    server = await startLocalServer({ port: 0, coapsPort: 0, coapsCipherSuites: [suite.id], host4: '127.0.0.1', host6: false, requestTimeoutMs: 300 });
    base = `coaps://127.0.0.1:${server.gateway.coaps!.address('IPv4')!.port}`;
    await server.store.putProfile(nosecProfile('fleet', 5685));
    for (const client of CLIENTS) {
      for (const suffix of ['pack', 'noep', 'bs', 'wrong', 'other']) {
        await server.store.putDevice({
          ...device(`${client}-${suffix}`, 'fleet'),
          bootstrapCredentials: { securityMode: 'psk', identity: `${client}-${suffix}-id`, secretKey: KEY_HEX },
        });
      }
    }
  });

  after(async () => {
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  });

  for (const client of CLIENTS) {
    describe(client, () => {
      it('GET /bspack over DTLS returns the pack, recorded as a success', async () => {
        const output = join(workDir, `${client}.cbor`);
        const answer = await coapsClient(client, `${client}-pack-id`, KEY_TEXT, '-m', 'get', '-A', '112', '-o', output, `${base}/bspack?ep=${client}-pack`);
        assert.equal(answer.code, 0, answer.stderr);
        const values = packValues(new Uint8Array(await readFile(output)));
        assert.deepEqual(values.get('/0/1/0'), { type: 'string', value: 'coap://127.0.0.1:5685' });
        assert.deepEqual(values.get('/1/0/0'), { type: 'integer', value: 101n });
        const status = await eventually(async () => (await server.store.getDevice(`${client}-pack`))?.status);
        assert.equal(status.outcome, 'success');
      });

      it('takes the endpoint from the PSK identity when the request has no ep', async () => {
        const output = join(workDir, `${client}-noep.cbor`);
        const answer = await coapsClient(client, `${client}-noep-id`, KEY_TEXT, '-m', 'get', '-A', '112', '-o', output, `${base}/bspack`);
        assert.equal(answer.code, 0, answer.stderr);
        assert.ok(packValues(new Uint8Array(await readFile(output))).has('/1/0/0'));
        const status = await eventually(async () => (await server.store.getDevice(`${client}-noep`))?.status);
        assert.equal(status.outcome, 'success');
      });

      it('answers POST /bs with 2.04 and starts the session over the same DTLS session', async () => {
        const answer = await coapsClient(client, `${client}-bs-id`, KEY_TEXT, '-m', 'post', `${base}/bs?ep=${client}-bs`);
        assert.equal(answer.stderr.trim(), '', 'no error response');
        // The client exits after 2.04, so the session's first request goes unanswered: proof
        // the gateway started it, towards the DTLS peer, for this endpoint.
        const status = await eventually(async () => (await server.store.getDevice(`${client}-bs`))?.status, 8000);
        assert.equal(status.outcome, 'timeout');
      });

      it('refuses a request whose ep is another device than the identity authenticated', async () => {
        const answer = await coapsClient(client, `${client}-other-id`, KEY_TEXT, '-m', 'get', `${base}/bspack?ep=${client}-pack`);
        assert.match(answer.stderr, /4\.00 bootstrap refused/);
        const status = await eventually(async () => (await server.store.getDevice(`${client}-pack`))?.status);
        assert.equal(status.detail?.includes('DTLS identity'), true, 'the reason is recorded, not sent');
      });

      it('a wrong key and an unknown identity get no answer and provision nothing', async () => {
        const failedBefore = server.gateway.counters()['coaps.requestsHandled'] ?? 0;
        const wrong = await coapsClient(client, `${client}-wrong-id`, 'not-the-key', '-m', 'get', `${base}/bspack?ep=${client}-wrong`);
        const unknown = await coapsClient(client, 'nobody-has-this-identity', KEY_TEXT, '-m', 'get', `${base}/bspack?ep=${client}-wrong`);
        // libcoap logs to stdout: both end in the same fatal decrypt_error alert from the server.
        for (const attempt of [wrong, unknown]) {
          assert.match(attempt.stdout, /decrypt error/i);
          assert.doesNotMatch(`${attempt.stdout}${attempt.stderr}`, /\b[245]\.\d\d\b/, 'no CoAP response');
        }
        assert.equal(server.gateway.counters()['coaps.requestsHandled'] ?? 0, failedBefore, 'no CoAP request reached the gateway');
        assert.equal((await server.store.getDevice(`${client}-wrong`))?.status, undefined);
      });
    });
  }
});

describe('coaps over IPv6', () => {
  it('serves coaps on the IPv6 socket at the IPv4 socket\'s port', async () => {
    const server = await startLocalServer({ port: 0, coapsPort: 0, host4: '127.0.0.1', host6: '::1', requestTimeoutMs: 300 });
    const workDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-coaps6-'));
    try {
      const v4 = server.gateway.coaps!.address('IPv4')!;
      const v6 = server.gateway.coaps!.address('IPv6');
      assert.equal(v6?.port, v4.port, 'both families on one port');
      await server.store.putProfile(nosecProfile('fleet', 5685));
      await server.store.putDevice({ ...device('v6-device', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'v6-id', secretKey: KEY_HEX } });
      const output = join(workDir, 'pack.cbor');
      const answer = await coapsClient('coap-client-openssl', 'v6-id', KEY_TEXT, '-m', 'get', '-A', '112', '-o', output, `coaps://[::1]:${v6.port}/bspack`);
      assert.equal(answer.code, 0, answer.stderr);
      assert.ok(packValues(new Uint8Array(await readFile(output))).has('/1/0/0'));
    } finally {
      await server.close();
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
