import assert from 'node:assert/strict';
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
    await store.putDevice({ ...device('dtls', 'psk'), serverCredentials, bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-id', secretKey: key } });
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
