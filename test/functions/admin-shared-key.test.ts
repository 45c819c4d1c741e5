import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import { classifyStoredDeviceKey } from '../../shared/bootstrap/device-key-classification.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { functionEnvironment, httpApiEvent, lambdaContext } from './fixtures.ts';

const randomKey = (): string => randomBytes(16).toString('hex');
const SHARED_KEY = randomKey();
const PROFILE = {
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683' }],
  bootstrapServer: { uri: 'coaps://bs.example:5684' },
};
const entry = (endpoint: string, secretKey: string, extra: Record<string, unknown> = {}) => ({
  endpoint,
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey, ...extra },
});

/**
 * The admin API's device writers take each bootstrap PSK's fingerprint with KMS GenerateMac (the
 * real KMSClient, answered by the fake KMS of the function fixtures) and count the stored devices
 * holding the same key.
 */
describe('admin-api function: keys shared with stored devices', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof adminApiHandler;
  const context = lambdaContext('admin-api');

  before(async () => {
    env = await functionEnvironment();
    store = env.store;
    ({ handler } = await import('../../functions/admin-api.ts'));
    const put = await handler(httpApiEvent('PUT', '/profiles/{name}', { params: { name: 'fleet' }, body: JSON.stringify(PROFILE), contentType: 'application/json' }), context);
    assert.equal(put.statusCode, 200, put.body);
  });
  after(() => env.close());

  const call = async (...args: Parameters<typeof httpApiEvent>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const raw = await handler(httpApiEvent(...args), context);
    assert.ok(!raw.body.includes(SHARED_KEY), 'a key reached an answer');
    return { status: raw.statusCode, body: JSON.parse(raw.body) as Record<string, unknown> };
  };
  const putDevice = (document: object & { endpoint: string }) =>
    call('PUT', '/devices/{endpoint}', { params: { endpoint: document.endpoint }, body: JSON.stringify(document), contentType: 'application/json' });

  it('stores the fingerprint KMS computed, and names a key another device holds on PUT /devices', async () => {
    const first = await putDevice(entry('api-1', SHARED_KEY));
    assert.deepEqual([first.status, first.body], [200, { stored: 'device', endpoint: 'api-1', profile: 'fleet' }]);
    const fingerprint = (await store.getDevice('api-1'))?.bootstrapCredentials?.keyFingerprint;
    assert.match(fingerprint ?? '', /^[0-9a-f]{64}$/);

    // Put again, unchanged: its own stored version is not another holder.
    assert.deepEqual((await putDevice(entry('api-1', SHARED_KEY))).body, { stored: 'device', endpoint: 'api-1', profile: 'fleet' });

    const second = await putDevice(entry('api-2', SHARED_KEY, { keyFingerprint: 'cd'.repeat(32) }));
    assert.equal(second.status, 200);
    assert.deepEqual(second.body['lowEntropy'], [{ code: 'shared-key', devices: 2, text: 'the same key is on 2 devices' }]);
    assert.equal((await store.getDevice('api-2'))?.bootstrapCredentials?.keyFingerprint, fingerprint, 'the fingerprint sent in is replaced');
    assert.equal((await classifyStoredDeviceKey(store, (await store.getDevice('api-1'))!))?.entropy, 'low');
  });

  it('lists rows of POST /import whose key a stored device holds, and the rest as high', async () => {
    const rows = [entry('imp-1', SHARED_KEY), entry('imp-2', randomKey())];
    const imported = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify(rows) });
    assert.equal(imported.status, 200);
    assert.deepEqual(imported.body['lowEntropy'], [{ row: 1, endpoint: 'imp-1', reasons: [{ code: 'shared-key', devices: 3, text: 'the same key is on 3 devices' }] }]);
    assert.equal((await classifyStoredDeviceKey(store, (await store.getDevice('imp-2'))!))?.entropy, 'high');
    assert.equal((await store.getDevice('imp-1'))?.bootstrapCredentials?.keyFingerprint, (await store.getDevice('api-1'))?.bootstrapCredentials?.keyFingerprint);
  });

  it('refuses, with refuseLowEntropy, a whole POST /import whose one row has a key a stored device holds (422, nothing written)', async () => {
    const rows = [entry('ref-1', randomKey()), entry('ref-2', SHARED_KEY)];
    const body = JSON.stringify(rows);
    for (const query of [{ refuseLowEntropy: 'true' }, { refuseLowEntropy: 'true', dryRun: 'true' }] as Record<string, string>[]) {
      const refused = await call('POST', '/import', { contentType: 'application/json', body, query });
      assert.equal(refused.status, 422, JSON.stringify(query));
      assert.deepEqual(refused.body['error'], {
        code: 'import-rejected',
        message: '1 of 2 rows rejected; nothing written',
        issues: [
          {
            field: 'bootstrapCredentials.secretKey',
            message: 'low-entropy bootstrap key (shared-key): the same key is on 4 devices',
            row: 2,
            endpoint: 'ref-2',
            reasons: [{ code: 'shared-key', devices: 4, text: 'the same key is on 4 devices' }],
          },
        ],
      });
      for (const endpoint of ['ref-1', 'ref-2']) assert.equal(await store.getDevice(endpoint), undefined, `${endpoint} written`);
    }

    // A CSV body names the key column and the line; a row refused for another reason is listed with it.
    const csv = ['endpoint,profile,bootstrap_mode,bootstrap_identity,bootstrap_key', `ref-3,ghost,psk,ref-3-bs,${randomKey()}`, `ref-4,fleet,psk,ref-4-bs,${SHARED_KEY}`, ''].join('\n');
    const fromCsv = await call('POST', '/import', { contentType: 'text/csv', body: csv, query: { refuseLowEntropy: 'true' } });
    assert.equal(fromCsv.status, 422);
    const issues = (fromCsv.body['error'] as { issues: Record<string, unknown>[] }).issues;
    assert.deepEqual(issues.map(({ field, row, line, endpoint }) => ({ field, row, line, endpoint })), [
      { field: 'profile', row: 1, line: 2, endpoint: 'ref-3' },
      { field: 'bootstrap_key', row: 2, line: 3, endpoint: 'ref-4' },
    ]);
    assert.equal((fromCsv.body['error'] as { message: string }).message, '2 of 2 rows rejected; nothing written');

    // Without the flag the same rows are written, the shared key listed.
    const imported = await call('POST', '/import', { contentType: 'application/json', body, query: { refuseLowEntropy: 'false' } });
    assert.equal(imported.status, 200);
    assert.deepEqual(imported.body, {
      format: 'json',
      dryRun: false,
      rows: 2,
      written: 2,
      lowEntropy: [{ row: 2, endpoint: 'ref-2', reasons: [{ code: 'shared-key', devices: 4, text: 'the same key is on 4 devices' }] }],
    });
    assert.equal((await store.getDevice('ref-2'))?.profile, 'fleet');

    // A batch whose keys are all high entropy is not refused.
    const clean = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify([entry('ref-5', randomKey())]), query: { refuseLowEntropy: 'true' } });
    assert.deepEqual([clean.status, clean.body['written'], clean.body['lowEntropy']], [200, 1, []]);
    const badFlag = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify([entry('ref-6', randomKey())]), query: { refuseLowEntropy: 'yes' } });
    assert.equal(badFlag.status, 400);
    assert.equal(await store.getDevice('ref-6'), undefined);
  });
});
