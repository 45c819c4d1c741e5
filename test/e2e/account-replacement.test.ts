import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContentTree } from '../../shared/content/tree.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { booleanValue, integerValue, opaqueValue, stringValue } from '../../shared/lwm2m/value.ts';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { ClientObjectStore } from '../../simulator/client-state.ts';
import { SimulatedClient, type BootstrapPsk, type BootstrapRunResult } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { device, eventually, nosecProfile } from './fixtures.ts';

const IMEI = '356938035643809';
/** The factory key is the IMEI's digits (and a 0, to make the 16 bytes a PSK needs). */
const WEAK_KEY = new TextEncoder().encode(`${IMEI}0`);
/** Seconds: the client's own timer for the original is slowed (accountTimeoutScale) so only the server's purge runs. */
const ACCOUNT_TIMEOUT = 3;

// A device whose Bootstrap-Server key is its IMEI, on the local server over real UDP/DTLS with
// dynalite and the local purge scheduler: its first bootstrap gives it a second Bootstrap-Server
// account with a fresh key, the server promotes that account, the client's next Bootstrap-Request
// uses it and that session deletes the original instance, and the original identity, which still
// completes a handshake meanwhile, fails it once its purge has run.
describe('replacing a low-entropy Bootstrap-Server account, end to end', () => {
  let work: string;
  let lwm2m: TestLwm2mServer;
  let server: LocalServer;
  let coapsPort: number;

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = await mkdtemp(join(tmpdir(), 'lwm2m-bs-replacement-e2e-'));
    lwm2m = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    server = await startLocalServer({ dataDir: join(work, 'data'), port: 0, coapsPort: 0, host4: '127.0.0.1', host6: false, requestTimeoutMs: 2000 });
    coapsPort = server.gateway.coaps!.address('IPv4')!.port;
    await server.store.putProfile(
      nosecProfile('weak-keys', lwm2m.port, { bootstrapServer: { uri: `coaps://127.0.0.1:${coapsPort}`, instanceId: 0, accountTimeout: ACCOUNT_TIMEOUT } }),
    );
    await server.store.putDevice({
      ...device('weak-1', 'weak-keys'),
      identities: { imei: IMEI },
      bootstrapCredentials: { securityMode: 'psk', identity: 'weak-1-bs', secretKey: Buffer.from(WEAK_KEY).toString('hex') },
    });
  });

  after(async () => {
    await server.close();
    await lwm2m.close();
    await rm(work, { recursive: true, force: true });
  });

  const client = (psk: BootstrapPsk): SimulatedClient =>
    new SimulatedClient({
      endpoint: 'weak-1',
      version: '1.1',
      bootstrapServer: { host: '127.0.0.1', port: coapsPort },
      bootstrapPsk: psk,
      register: false,
      accountTimeoutScale: 100,
      timeouts: { dtlsHandshakeMs: 2000, bootstrapIdleMs: 3000 },
    });

  /** A one-off client holding only the original account. */
  const withOriginal = async (): Promise<BootstrapRunResult> => {
    const original = client({ identity: 'weak-1-bs', key: WEAK_KEY });
    try {
      return await original.run();
    } finally {
      await original.close();
    }
  };

  const bootstrapAccounts = (result: BootstrapRunResult): number[] => result.security.filter((account) => account.bootstrapServer).map((account) => account.instanceId);

  it('the first bootstrap adds a fresh account, the next one over it deletes the original, and the original identity fails after its purge', async () => {
    const device = client({ identity: 'weak-1-bs', key: WEAK_KEY });
    try {
      const first = await device.run();
      assert.equal(first.ok, true, first.error);
      assert.deepEqual(bootstrapAccounts(first), [0, 2], 'the original at /0/0 and the replacement beside it');

      const promoted = await eventually(async () => {
        const entry = await server.store.getDevice('weak-1');
        return entry?.bootstrapCredentials?.identity?.startsWith('weak-1#bs-') === true ? entry : undefined;
      });
      assert.equal(promoted.bootstrapCredentials?.keyOrigin, 'random');
      assert.equal(Buffer.from(promoted.bootstrapCredentials?.secretKey ?? '', 'hex').length, 16);
      assert.deepEqual(promoted.retiringBootstrapCredentials?.map(({ identity, reason }) => ({ identity, reason })), [{ identity: 'weak-1-bs', reason: 'replaced' }]);
      const purge = await eventually(async () => server.purges.pending().find((pending) => pending.endpoint === 'weak-1'));
      assert.deepEqual({ reason: purge.reason, pskIdentity: purge.pskIdentity, securityInstanceId: purge.securityInstanceId }, { reason: 'replaced', pskIdentity: 'weak-1-bs', securityInstanceId: 0 });

      // Until its purge the original identity still completes the handshake, but is served nothing.
      const early = await withOriginal();
      assert.equal(early.ok, false);
      assert.deepEqual(early.steps, ['dtls-handshake', 'bootstrap-request']);
      assert.match(early.error ?? '', /4\.00/);

      // The same client bootstraps again, over its newest account.
      const second = await device.run();
      assert.equal(second.ok, true, second.error);
      assert.ok(second.steps.includes('delete /0/0'), second.steps.join(', '));
      assert.deepEqual(bootstrapAccounts(second), [2]);
      const lifecycle = await eventually(async () => {
        const record = await server.store.getLifecycle('weak-1');
        return record?.pendingAccount === undefined ? record : undefined;
      });
      assert.ok(lifecycle.bootstrappedWith);

      await eventually(async () => {
        const entry = await server.store.getDevice('weak-1');
        return entry?.retiringBootstrapCredentials === undefined ? entry : undefined;
      }, (ACCOUNT_TIMEOUT + 3) * 1000);
      const revoked = (await server.store.getDevice('weak-1'))?.revokedBootstrapIdentities;
      assert.deepEqual(revoked?.map(({ identity, reason }) => ({ identity, reason })), [{ identity: 'weak-1-bs', reason: 'replaced' }]);

      const late = await withOriginal();
      assert.equal(late.ok, false);
      assert.deepEqual(late.steps, ['dtls-handshake']);
      assert.match(late.error ?? '', /decrypt_error/);

      const third = await device.run();
      assert.equal(third.ok, true, third.error);
      assert.deepEqual(bootstrapAccounts(third), [2]);
    } finally {
      await device.close();
    }
  });
});

// The simulated client's rules for two Bootstrap-Server accounts (Core §5.2.2.2 step 4 and
// §5.2.7.5): a Delete of / or /0 keeps both, the session's own account is never deleted, and the
// other one goes on an explicit Delete of its instance.
describe('a simulated client holding two Bootstrap-Server accounts', () => {
  const account = (id: number, identity: string): ContentTree[number]['instances'][number] => ({
    id,
    resources: [
      { kind: 'single', id: 0, value: stringValue('coaps://bs.example:5684') },
      { kind: 'single', id: 1, value: booleanValue(true) },
      { kind: 'single', id: 2, value: integerValue(0) },
      { kind: 'single', id: 3, value: opaqueValue(new TextEncoder().encode(identity)) },
      { kind: 'single', id: 5, value: opaqueValue(new Uint8Array(16).fill(id + 1)) },
    ],
  });
  const written = (store: ClientObjectStore, id: number, identity: string): void => store.write(parsePath(`/0/${id}`), [{ id: 0, instances: [account(id, identity)] }]);

  it('uses the newest account, keeps both on Delete of /0, refuses to delete its own and deletes the other', () => {
    const store = new ClientObjectStore([{ id: 0, instances: [account(0, 'original')] }], [0, 1, 2, 3]);
    assert.equal(store.beginBootstrapSession(), 0);
    written(store, 2, 'fresh');
    assert.equal(store.delete(parsePath('/0')), 'deleted');
    assert.deepEqual(store.bootstrapServerInstanceIds(), [0, 2]);
    assert.equal(store.delete(parsePath('/0/0')), 'protected', "the first session runs over the original: it stays");

    assert.equal(store.beginBootstrapSession(), 2, 'the next session uses the account written last');
    assert.equal(new TextDecoder().decode(store.pskOf(2)?.identity), 'fresh');
    assert.equal(store.delete(parsePath('/0/2')), 'protected');
    assert.equal(store.delete(parsePath('/0/0')), 'deleted');
    assert.equal(store.delete(parsePath('/0/2')), 'protected', 'the last account is never deleted');
    assert.deepEqual(store.bootstrapServerInstanceIds(), [2]);
  });
});
