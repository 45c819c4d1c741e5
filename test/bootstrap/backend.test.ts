import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { handleUplink, ContractError, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { bootstrapPlanSchema } from '../../shared/bootstrap/plan.ts';
import type { BootstrapEnded, BootstrapRequested } from '../../shared/bootstrap/contract.ts';
import { startDynalite, localDynamoDbClient } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';

// The backend against the real store adapter over dynalite (in memory).
describe('bootstrap backend', () => {
  let close: () => Promise<void>;
  let deps: BootstrapBackendDeps;
  let sessions = 0;

  before(async () => {
    const dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'backend-test');
    const store = new DynamoDbBootstrapStore({ client, tableName: 'backend-test' });
    await store.putProfile(nosecProfile('fleet', 5685));
    await store.putProfile(
      nosecProfile('psk', 5685, {
        servers: [{ shortServerId: 7, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', credentialSource: 'device', lifetime: 60, binding: 'U', notificationStoring: false }],
      }),
    );
    await store.putDevice(device('known', 'fleet'));
    await store.putDevice(device('orphan', 'no-such-profile'));
    await store.putDevice(device('keyless', 'psk'));
    const pskServerCredentials = { '7': { identity: 'dev-7', secretKey: '00112233445566778899aabbccddeeff' } };
    await store.putDevice({ ...device('keyed', 'psk'), serverCredentials: pskServerCredentials });
    await store.putProfile({ ...nosecProfile('psk-lab', 5685), servers: (await store.getProfile('psk'))!.servers, allowSecretsOverNoSec: true });
    await store.putDevice({ ...device('keyed-lab', 'psk-lab'), serverCredentials: pskServerCredentials });
    await store.putDevice({ ...device('dtls', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'dtls-id', secretKey: randomBytes(16).toString('hex') } });
    deps = { store, newSessionId: () => `session-${++sessions}`, now: () => new Date('2026-11-23T12:00:01.000Z') };
    close = async () => {
      client.destroy();
      await dynalite.close();
    };
  });
  after(() => close());

  const requested = (endpoint: string, extra: Partial<BootstrapRequested> = {}): BootstrapRequested => ({
    v: 1,
    type: 'bootstrap-requested',
    requestId: `r-${endpoint}`,
    gatewayId: 'test',
    endpoint,
    peer: { address: '127.0.0.1', port: 40000 },
    transport: 'udp',
    kind: 'bs',
    receivedAt: '2026-11-23T12:00:00.000Z',
    ...extra,
  });

  it('answers a known endpoint with a plan that validates', async () => {
    const answer = await handleUplink(requested('known'), deps);
    assert.equal(answer.type, 'bootstrap-planned');
    if (answer.type !== 'bootstrap-planned') return;
    assert.equal(answer.requestId, 'r-known');
    bootstrapPlanSchema.parse(answer.plan);
    assert.deepEqual(answer.plan.deletes, ['/0', '/1']);
    assert.equal(answer.plan.writes[0]?.values['/0/1/0'], 'coap://127.0.0.1:5685');
  });

  it('records a Bootstrap-Pack while planning it, and refuses an Accept that cannot carry one', async () => {
    await deps.store.putDevice(device('packed', 'fleet'));
    const answer = await handleUplink(requested('packed', { kind: 'bspack', accept: 110, receivedAt: '2026-11-23T12:30:00.000Z' }), deps);
    assert.equal(answer.type, 'bootstrap-planned');
    assert.equal(answer.type === 'bootstrap-planned' && answer.outcomeRecorded, true);
    const status = (await deps.store.getDevice('packed'))?.status;
    assert.deepEqual([status?.outcome, status?.kind, status?.contentFormat, status?.clientVersion], ['success', 'bspack', 110, '1.2']);
    const tlv = await handleUplink(requested('packed', { kind: 'bspack', accept: 11542, receivedAt: '2026-11-23T12:31:00.000Z' }), deps);
    assert.equal(tlv.type === 'bootstrap-rejected' && tlv.reason, 'not-acceptable');
  });

  it('rejects an unknown endpoint and counts it without creating a device', async () => {
    const answer = await handleUplink(requested('stranger'), deps);
    assert.equal(answer.type, 'bootstrap-rejected');
    assert.equal(answer.type === 'bootstrap-rejected' && answer.reason, 'unknown-endpoint');
    assert.equal(await deps.store.getDevice('stranger'), undefined);
  });

  it('rejects a device whose profile is missing and records it on the device', async () => {
    const answer = await handleUplink(requested('orphan'), deps);
    assert.equal(answer.type === 'bootstrap-rejected' && answer.reason, 'unknown-profile');
    const status = (await deps.store.getDevice('orphan'))?.status;
    assert.equal(status?.outcome, 'rejected');
    assert.match(status?.detail ?? '', /unknown-profile/);
  });

  it('rejects an invalid configuration naming the field, never a key', async () => {
    const answer = await handleUplink(requested('keyless'), deps);
    assert.equal(answer.type, 'bootstrap-rejected');
    if (answer.type !== 'bootstrap-rejected') return;
    assert.equal(answer.reason, 'invalid-configuration');
    assert.match(answer.detail, /serverCredentials|secretKey|identity/);
  });

  it("refuses a DTLS identity that is not the device's bootstrap identity", async () => {
    const wrong = await handleUplink(requested('dtls', { transport: 'dtls', pskIdentity: 'someone-else' }), deps);
    assert.equal(wrong.type === 'bootstrap-rejected' && wrong.reason, 'identity-mismatch');
    const right = await handleUplink(requested('dtls', { transport: 'dtls', pskIdentity: 'dtls-id' }), deps);
    assert.equal(right.type, 'bootstrap-planned');
  });

  it('refuses a DTLS device that asks over NoSec, before compiling anything', async () => {
    const answer = await handleUplink(requested('dtls'), deps);
    assert.equal(answer.type === 'bootstrap-rejected' && answer.reason, 'insecure-transport');
    assert.equal((await deps.store.getDevice('dtls'))?.status?.outcome, 'rejected');
  });

  it('refuses a plan carrying keys over NoSec unless the profile opts in, and never echoes the key', async () => {
    const refused = await handleUplink(requested('keyed'), deps);
    assert.equal(refused.type, 'bootstrap-rejected');
    if (refused.type !== 'bootstrap-rejected') return;
    assert.equal(refused.reason, 'insecure-transport');
    assert.doesNotMatch(JSON.stringify(refused), /00112233445566778899aabbccddeeff/);
    const lab = await handleUplink(requested('keyed-lab'), deps);
    assert.equal(lab.type, 'bootstrap-planned');
  });

  it('records an outcome, and keeps a newer one over a late older one', async () => {
    const ended = (sessionId: string, startedAt: string, outcome: BootstrapEnded['outcome']): BootstrapEnded => ({
      v: 1,
      type: 'bootstrap-ended',
      sessionId,
      gatewayId: 'test',
      endpoint: 'known',
      kind: 'bs',
      outcome,
      startedAt,
      endedAt: startedAt,
      clientVersion: '1.1',
      contentFormat: 112,
    });
    const newer = await handleUplink(ended('s-new', '2026-11-23T12:05:00.000Z', 'success'), deps);
    assert.equal(newer.type === 'bootstrap-recorded' && newer.stored, true);
    const late = await handleUplink(ended('s-old', '2026-11-23T12:01:00.000Z', 'timeout'), deps);
    assert.equal(late.type === 'bootstrap-recorded' && late.stored, false);
    const status = (await deps.store.getDevice('known'))?.status;
    assert.equal(status?.sessionId, 's-new');
    assert.equal(status?.outcome, 'success');
  });

  it('throws a ContractError naming the field of a malformed uplink', async () => {
    await assert.rejects(
      handleUplink({ v: 1, type: 'bootstrap-requested', endpoint: 'x' }, deps),
      (error: unknown) => error instanceof ContractError && /requestId/.test(error.message),
    );
    await assert.rejects(handleUplink({ v: 2, type: 'bootstrap-ended' }, deps), ContractError);
    await assert.rejects(handleUplink('not json', deps), ContractError);
  });
});
