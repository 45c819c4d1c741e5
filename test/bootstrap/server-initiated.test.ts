import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { bootstrapInitiateSchema, downlinkSchema, gatewayDownlinkSchema } from '../../shared/bootstrap/contract.ts';
import { planServerInitiated } from '../../shared/bootstrap/server-initiated.ts';
import { startDynalite, localDynamoDbClient } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';

// planServerInitiated against the real store adapter over dynalite (in memory).
describe('planServerInitiated', () => {
  let close: () => Promise<void>;
  let deps: BootstrapBackendDeps;
  let store: DynamoDbBootstrapStore;
  let sessions = 0;
  const peer = { address: '192.0.2.7', port: 56830 };
  const key = '00112233445566778899aabbccddeeff';
  // A key from the CSPRNG classifies high; the sequential one above is low and gets replaced.
  const strongKey = randomBytes(16).toString('hex');
  const BS = { uri: 'coaps://bs.example:5684', instanceId: 0, accountTimeout: 3600 };

  before(async () => {
    const dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'server-initiated-test');
    store = new DynamoDbBootstrapStore({ client, tableName: 'server-initiated-test' });
    await store.putProfile(nosecProfile('fleet', 5685));
    const pskServers = [{ shortServerId: 7, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' as const, credentialSource: 'device' as const, lifetime: 60, binding: 'U', notificationStoring: false }];
    await store.putProfile(nosecProfile('psk', 5685, { servers: pskServers }));
    await store.putProfile(nosecProfile('psk-lab', 5685, { servers: pskServers, allowSecretsOverNoSec: true }));
    const serverCredentials = { '7': { identity: 'dev-7', secretKey: key } };
    await store.putDevice(device('plain', 'fleet'));
    await store.putDevice(device('orphan', 'no-such-profile'));
    await store.putDevice({ ...device('keyed', 'psk'), serverCredentials });
    await store.putDevice({ ...device('keyed-lab', 'psk-lab'), serverCredentials });
    await store.putDevice({ ...device('dtls', 'psk'), serverCredentials, bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-id', secretKey: strongKey } });
    await store.putProfile(nosecProfile('psk-bs', 5685, { servers: pskServers, bootstrapServer: BS }));
    await store.putDevice({ ...device('weak', 'psk-bs'), serverCredentials, bootstrapCredentials: { securityMode: 'psk', identity: 'weak-id', secretKey: key } });
    await store.putDevice({ ...device('weak-no-bs', 'psk'), serverCredentials, bootstrapCredentials: { securityMode: 'psk', identity: 'weak2-id', secretKey: key } });
    await store.putDevice({ ...device('x509', 'fleet'), bootstrapCredentials: { securityMode: 'x509', publicKey: '3082', secretKey: key } });
    deps = { store, newSessionId: () => `session-${++sessions}`, now: () => new Date('2026-11-23T12:00:01.000Z') };
    close = async () => {
      client.destroy();
      await dynalite.close();
    };
  });
  after(() => close());

  it('plans a NoSec device over udp, with the plan a Bootstrap-Request would get, and records nothing yet', async () => {
    const planned = await planServerInitiated(deps, 'plain', peer, 'never-bootstrapped', { gatewayId: 'gw-1' });
    assert.ok(planned.ok);
    const { downlink } = planned;
    assert.deepEqual(bootstrapInitiateSchema.parse(downlink), downlink);
    assert.equal(downlink.type, 'bootstrap-initiate');
    assert.equal(downlink.transport, 'udp');
    assert.equal(downlink.gatewayId, 'gw-1');
    assert.equal(downlink.reason, 'never-bootstrapped');
    assert.deepEqual(downlink.peer, peer);
    assert.equal(downlink.pskIdentity, undefined);
    assert.deepEqual(downlink.plan.deletes, ['/0', '/1']);
    assert.ok(downlink.plan.writes.some((write) => write.path.startsWith('/1/')));
    assert.equal((await store.getDevice('plain'))?.status, undefined);
    // It rides the gateway's downlink topic, and is no answer to an uplink.
    assert.equal(gatewayDownlinkSchema.parse(JSON.parse(JSON.stringify(downlink))).type, 'bootstrap-initiate');
    assert.equal(downlinkSchema.safeParse(downlink).success, false);
  });

  it('plans a PSK device over dtls with the identity its session must carry, keys and all', async () => {
    const planned = await planServerInitiated(deps, 'dtls', peer, 'operator');
    assert.ok(planned.ok);
    assert.equal(planned.downlink.transport, 'dtls');
    assert.equal(planned.downlink.pskIdentity, 'dtls-id');
    assert.equal(planned.downlink.gatewayId, undefined);
  });

  it('replaces a low-entropy Bootstrap-Server account as a Bootstrap-Request would, or refuses when the profile has no account to write', async () => {
    const planned = await planServerInitiated(deps, 'weak', peer, 'operator');
    assert.ok(planned.ok, 'a profile with bootstrapServer gets the replacement step');
    const pending = (await store.getLifecycle('weak'))?.pendingAccount;
    assert.ok(pending !== undefined, 'the fresh account is recorded as pending');
    assert.equal(pending.originalIdentity, 'weak-id');
    const paths = [...planned.downlink.plan.writes, ...(planned.downlink.plan.bootstrapServerWrite === undefined ? [] : [planned.downlink.plan.bootstrapServerWrite])].map((write) => write.path);
    assert.ok(paths.includes(`/0/${pending.instanceId}`), `the plan writes the new account at /0/${pending.instanceId}: ${paths.join(' ')}`);
    assert.ok(paths.includes(`/0/${pending.originalInstanceId}`), 'and rewrites the original');
    // bootstrap-ended carries the session id only: it says the session delivered the step.
    assert.match(planned.downlink.sessionId, /\.r[0-9a-f]{12}$/);
    assert.equal(planned.downlink.pskIdentity, 'weak-id', 'the session still runs under the original identity');

    const again = await planServerInitiated(deps, 'weak', peer, 'operator');
    assert.ok(again.ok);
    assert.equal((await store.getLifecycle('weak'))?.pendingAccount?.identity, pending.identity, 'a second attempt writes the same fresh account');

    const refused = await planServerInitiated(deps, 'weak-no-bs', peer, 'operator');
    assert.equal(refused.ok ? undefined : refused.reason, 'invalid-configuration');
    assert.match((await store.getDevice('weak-no-bs'))?.status?.detail ?? '', /low entropy/);
    assert.doesNotMatch(JSON.stringify(refused), new RegExp(key));
  });

  it('refuses a plan with keys over NoSec and records it, unless the profile allows it', async () => {
    const refused = await planServerInitiated(deps, 'keyed', peer, 'profile-changed');
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.reason === 'insecure-transport');
    const status = (await store.getDevice('keyed'))?.status;
    assert.equal(status?.outcome, 'rejected');
    assert.equal(status?.kind, 'bs');
    assert.match(status?.detail ?? '', /^insecure-transport: /);
    assert.doesNotMatch(JSON.stringify(refused), new RegExp(key));

    const allowed = await planServerInitiated(deps, 'keyed-lab', peer, 'profile-changed');
    assert.ok(allowed.ok);
    assert.equal(allowed.downlink.transport, 'udp');
  });

  it('refuses unknown devices (recording nothing), missing profiles and modes it cannot initiate over', async () => {
    const unknown = await planServerInitiated(deps, 'nobody', peer, 'operator');
    assert.deepEqual(unknown.ok ? undefined : unknown.reason, 'unknown-endpoint');
    assert.equal(await store.getDevice('nobody'), undefined);

    const orphan = await planServerInitiated(deps, 'orphan', peer, 'operator');
    assert.equal(orphan.ok ? undefined : orphan.reason, 'unknown-profile');
    assert.equal((await store.getDevice('orphan'))?.status?.outcome, 'rejected');

    const x509 = await planServerInitiated(deps, 'x509', peer, 'operator');
    assert.equal(x509.ok ? undefined : x509.reason, 'unavailable');
    assert.match((await store.getDevice('x509'))?.status?.detail ?? '', /x509/);
  });
});
