import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HttpApiResult } from '../../functions/admin/http.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { functionEnvironment, httpApiEvent, lambdaContext } from './fixtures.ts';

// The real admin-api handler (middy, Powertools, the DynamoDB store) against dynalite, driven
// with the payload format 2.0 events API Gateway's HTTP API sends. Nothing is mocked: the
// function makes no AWS call but DynamoDB.
const SECRET = '00112233445566778899aabbccddeeff';
const OTHER_SECRET = 'ffeeddccbbaa99887766554433221100';

const pskProfile = {
  ...nosecProfile('psk', 5685),
  servers: [{ shortServerId: 7, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk', credentialSource: 'device', lifetime: 60, binding: 'U', notificationStoring: false }],
};

describe('admin-api function', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof adminApiHandler;
  const context = lambdaContext('admin-api');

  before(async () => {
    env = await functionEnvironment();
    store = env.store;
    ({ handler } = await import('../../functions/admin-api.ts'));
  });
  after(() => env.close());

  const call = async (...args: Parameters<typeof httpApiEvent>): Promise<{ status: number; body: Record<string, unknown>; raw: HttpApiResult }> => {
    const raw = await handler(httpApiEvent(...args), context);
    assert.match(raw.headers['content-type'] ?? '', /^application\/json/);
    return { status: raw.statusCode, body: JSON.parse(raw.body) as Record<string, unknown>, raw };
  };
  const errorOf = (body: Record<string, unknown>) => body['error'] as { code: string; message: string; issues?: { field: string; message: string; row?: number; line?: number; endpoint?: string }[] };

  it('puts, reads, lists and deletes a profile', async () => {
    const put = await call('PUT', '/profiles/{name}', { params: { name: 'fleet' }, body: JSON.stringify(nosecProfile('fleet', 5685)), contentType: 'application/json' });
    assert.deepEqual([put.status, put.body], [200, { stored: 'profile', name: 'fleet' }]);
    // The name may be left to the path.
    const nameless: Record<string, unknown> = { ...pskProfile };
    delete nameless['name'];
    assert.equal((await call('PUT', '/profiles/{name}', { params: { name: 'psk' }, body: JSON.stringify(nameless) })).status, 200);

    const got = await call('GET', '/profiles/{name}', { params: { name: 'fleet' } });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, await store.getProfile('fleet'));

    const list = await call('GET', '/profiles');
    assert.deepEqual((list.body['items'] as { name: string }[]).map((profile) => profile.name).sort(), ['fleet', 'psk']);
    assert.equal(list.body['cursor'], undefined);

    await call('PUT', '/profiles/{name}', { params: { name: 'doomed' }, body: JSON.stringify(nosecProfile('doomed', 5685)) });
    assert.deepEqual((await call('DELETE', '/profiles/{name}', { params: { name: 'doomed' } })).body, { deleted: 'profile', name: 'doomed' });
    assert.equal(await store.getProfile('doomed'), undefined);
  });

  it('answers 404 for what is not there, with the error shape', async () => {
    for (const [method, path, params] of [
      ['GET', '/profiles/{name}', { name: 'nope' }],
      ['DELETE', '/profiles/{name}', { name: 'nope' }],
      ['GET', '/devices/{endpoint}', { endpoint: 'nope' }],
      ['DELETE', '/devices/{endpoint}', { endpoint: 'nope' }],
      ['GET', '/devices/{endpoint}/status', { endpoint: 'nope' }],
    ] as const) {
      const { status, body } = await call(method, path, { params });
      assert.equal(status, 404, `${method} ${path}`);
      assert.equal(errorOf(body).code, 'not-found');
    }
    const unrouted = await call('PATCH', '/profiles/{name}', { params: { name: 'fleet' } });
    assert.equal(unrouted.status, 404);
  });

  it('refuses a malformed profile with 400 and every issue, and one that would not bootstrap with 422', async () => {
    const bad = await call('PUT', '/profiles/{name}', { params: { name: 'bad' }, body: JSON.stringify({ name: 'bad', servers: [], colour: 'red' }) });
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad.body).code, 'invalid-document');
    assert.deepEqual(errorOf(bad.body).issues?.map((issue) => issue.field).sort(), ['colour', 'servers']);

    const mismatch = await call('PUT', '/profiles/{name}', { params: { name: 'other' }, body: JSON.stringify(nosecProfile('fleet', 5685)) });
    assert.deepEqual([mismatch.status, errorOf(mismatch.body).issues?.[0]?.field], [400, 'name']);

    const notJson = await call('PUT', '/profiles/{name}', { params: { name: 'x' }, body: `{"secretKey": "${SECRET}"` });
    assert.equal(notJson.status, 400);
    assert.match(errorOf(notJson.body).message, /not valid JSON/);
    assert.doesNotMatch(notJson.raw.body, new RegExp(SECRET));

    const profileWithSsidClash = { ...nosecProfile('clash', 5685), servers: [...nosecProfile('a', 1).servers, ...nosecProfile('b', 2).servers] };
    const unbootstrappable = await call('PUT', '/profiles/{name}', { params: { name: 'clash' }, body: JSON.stringify(profileWithSsidClash) });
    assert.equal(unbootstrappable.status, 422);
    assert.equal(errorOf(unbootstrappable.body).code, 'invalid-configuration');
    assert.ok((errorOf(unbootstrappable.body).issues?.length ?? 0) > 0);
    assert.equal(await store.getProfile('clash'), undefined);
  });

  it('puts a device and hides its keys unless showSecrets=true', async () => {
    const keyed = { ...device('dev-1', 'psk'), serverCredentials: { '7': { identity: 'dev-1', secretKey: SECRET } } };
    const put = await call('PUT', '/devices/{endpoint}', { params: { endpoint: 'dev-1' }, body: JSON.stringify(keyed), contentType: 'application/json' });
    assert.deepEqual([put.status, put.body], [200, { stored: 'device', endpoint: 'dev-1', profile: 'psk' }]);

    const redacted = await call('GET', '/devices/{endpoint}', { params: { endpoint: 'dev-1' } });
    assert.equal(redacted.status, 200);
    assert.deepEqual((redacted.body['serverCredentials'] as Record<string, unknown>)['7'], { identity: 'dev-1', secretKey: '(hidden: 16 bytes)' });
    assert.doesNotMatch(redacted.raw.body, new RegExp(SECRET));
    const listed = await call('GET', '/devices');
    assert.doesNotMatch(listed.raw.body, new RegExp(SECRET));

    const shown = await call('GET', '/devices/{endpoint}', { params: { endpoint: 'dev-1' }, query: { showSecrets: 'true' } });
    assert.equal((shown.body['serverCredentials'] as Record<string, { secretKey: string }>)['7']?.secretKey, SECRET);

    const badFlag = await call('GET', '/devices/{endpoint}', { params: { endpoint: 'dev-1' }, query: { showSecrets: 'yes', colour: 'red' } });
    assert.equal(badFlag.status, 400);
    assert.deepEqual(errorOf(badFlag.body).issues?.map((issue) => issue.field).sort(), ['colour', 'showSecrets']);
  });

  it('decodes an endpoint with reserved characters from the path', async () => {
    const endpoint = 'urn:imei:35/0000?x#y';
    const put = await call('PUT', '/devices/{endpoint}', { params: { endpoint }, body: JSON.stringify(device(endpoint, 'fleet')) });
    assert.equal(put.status, 200);
    // Behind a catch-all route API Gateway gives no path parameters: the raw path decides.
    const event = { ...httpApiEvent('GET', '/devices/{endpoint}', { params: { endpoint } }), routeKey: '$default', pathParameters: undefined };
    const got = await handler(event, context);
    assert.equal(got.statusCode, 200);
    assert.equal((JSON.parse(got.body) as { endpoint: string }).endpoint, endpoint);
  });

  it('refuses a device with 400, 409 or 422 as the CLI would, without echoing keys', async () => {
    const schemaBad = await call('PUT', '/devices/{endpoint}', { params: { endpoint: 'd2' }, body: JSON.stringify({ ...device('d2', 'psk'), serverCredentials: { '7': { identity: 'd2', secretKey: `zz${SECRET}` } } }) });
    assert.equal(schemaBad.status, 400);
    assert.equal(errorOf(schemaBad.body).issues?.[0]?.field, 'serverCredentials.7.secretKey');
    assert.doesNotMatch(schemaBad.raw.body, new RegExp(SECRET));

    const noProfile = await call('PUT', '/devices/{endpoint}', { params: { endpoint: 'd2' }, body: JSON.stringify(device('d2', 'ghost')) });
    assert.deepEqual([noProfile.status, errorOf(noProfile.body).code], [422, 'unknown-profile']);

    const missingKey = await call('PUT', '/devices/{endpoint}', { params: { endpoint: 'd2' }, body: JSON.stringify(device('d2', 'psk')) });
    assert.deepEqual([missingKey.status, errorOf(missingKey.body).code], [422, 'invalid-configuration']);

    await store.putDevice({ ...device('holder', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'shared-id', secretKey: SECRET } });
    const clash = await call('PUT', '/devices/{endpoint}', {
      params: { endpoint: 'd2' },
      body: JSON.stringify({ ...device('d2', 'fleet'), bootstrapCredentials: { securityMode: 'psk', identity: 'shared-id', secretKey: OTHER_SECRET } }),
    });
    assert.deepEqual([clash.status, errorOf(clash.body).code], [409, 'conflict']);
    assert.match(errorOf(clash.body).message, /held by device holder/);
    assert.doesNotMatch(clash.raw.body, new RegExp(`${SECRET}|${OTHER_SECRET}`));
    assert.equal(await store.getDevice('d2'), undefined);
  });

  it('imports a JSON array, JSON Lines and CSV body', async () => {
    const json = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify([device('j1', 'fleet'), device('j2', 'fleet')]) });
    assert.deepEqual([json.status, json.body], [200, { format: 'json', dryRun: false, rows: 2, written: 2, lowEntropy: [] }]);

    const lines = `${JSON.stringify(device('l1', 'fleet'))}\n\n${JSON.stringify(device('l2', 'fleet'))}\n`;
    const jsonl = await call('POST', '/import', { contentType: 'application/x-ndjson', body: lines, base64: true });
    assert.deepEqual(jsonl.body, { format: 'jsonl', dryRun: false, rows: 2, written: 2, lowEntropy: [] });

    const csv = `endpoint,profile,server.7.identity,server.7.key\nc1,psk,c1-id,${SECRET}\nc2,fleet,,\n`;
    const fromCsv = await call('POST', '/import', { contentType: 'text/csv; charset=utf-8', body: csv });
    assert.deepEqual(fromCsv.body, { format: 'csv', dryRun: false, rows: 2, written: 2, lowEntropy: [] });
    assert.equal((await store.getDevice('c1'))?.serverCredentials['7']?.secretKey, SECRET);
    for (const endpoint of ['j1', 'j2', 'l1', 'l2', 'c2']) assert.equal((await store.getDevice(endpoint))?.profile, 'fleet');

    const dry = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify([device('dry', 'fleet')]), query: { dryRun: 'true' } });
    assert.deepEqual(dry.body, { format: 'json', dryRun: true, rows: 1, written: 0, lowEntropy: [] });
    assert.equal(await store.getDevice('dry'), undefined);
  });

  it('imports all or nothing: one bad row refuses the body with 422 and every problem', async () => {
    const before = await store.getDevice('j1');
    const rows = [
      { ...device('j1', 'psk'), serverCredentials: { '7': { identity: 'j1', secretKey: SECRET } } },
      device('new-1', 'fleet'),
      device('new-2', 'ghost'),
      device('new-1', 'fleet'),
    ];
    const refused = await call('POST', '/import', { contentType: 'application/json', body: JSON.stringify(rows) });
    assert.equal(refused.status, 422);
    const error = errorOf(refused.body);
    assert.equal(error.code, 'import-rejected');
    assert.equal(error.message, '2 of 4 rows rejected; nothing written');
    assert.deepEqual(error.issues, [
      { field: 'profile', message: 'no profile "ghost"', row: 3, endpoint: 'new-2' },
      { field: 'endpoint', message: 'endpoint already on row 2', row: 4, endpoint: 'new-1' },
    ]);
    assert.doesNotMatch(refused.raw.body, new RegExp(SECRET));
    assert.equal(await store.getDevice('new-1'), undefined);
    assert.deepEqual(await store.getDevice('j1'), before);

    const badLine = await call('POST', '/import', { contentType: 'application/x-ndjson', body: `${JSON.stringify(device('n1', 'fleet'))}\n{"endpoint": "n2", "secretKey": "${SECRET}"\n` });
    assert.equal(badLine.status, 422);
    assert.deepEqual(errorOf(badLine.body).issues?.map((issue) => [issue.row, issue.line, issue.field]), [[2, 2, '(row)']]);
    assert.equal(await store.getDevice('n1'), undefined);

    const badHeader = await call('POST', '/import', { contentType: 'text/csv', body: 'endpoint,colour\nx,red\n' });
    assert.deepEqual([badHeader.status, errorOf(badHeader.body).code], [400, 'bad-request']);
    const notArray = await call('POST', '/import', { contentType: 'application/json', body: '{}' });
    assert.equal(notArray.status, 400);
    const xml = await call('POST', '/import', { contentType: 'application/xml', body: '<devices/>' });
    assert.deepEqual([xml.status, errorOf(xml.body).code], [415, 'unsupported-media-type']);
  });

  it('lists devices a page at a time, filtered by profile, and refuses a forged cursor', async () => {
    const all = await call('GET', '/devices', { query: { profile: 'psk' } });
    assert.equal(all.status, 200);
    assert.deepEqual((all.body['items'] as { endpoint: string }[]).map((entry) => entry.endpoint).sort(), ['c1', 'dev-1']);
    const forged = await call('GET', '/devices', { query: { cursor: 'bm90LWEtY3Vyc29y' } });
    assert.deepEqual([forged.status, errorOf(forged.body).issues?.[0]?.field], [400, 'cursor']);
  });

  it('shows the recorded status, null before the first bootstrap', async () => {
    const never = await call('GET', '/devices/{endpoint}/status', { params: { endpoint: 'j2' } });
    assert.deepEqual(never.body, { endpoint: 'j2', status: null });
    const status = { sessionId: 's-1', outcome: 'success', startedAt: '2026-11-23T12:00:00.000Z', endedAt: '2026-11-23T12:00:01.000Z', kind: 'bs', clientVersion: '1.1', contentFormat: 112 } as const;
    await store.recordStatus('j2', status);
    const recorded = await call('GET', '/devices/{endpoint}/status', { params: { endpoint: 'j2' } });
    assert.deepEqual(recorded.body, { endpoint: 'j2', status: { ...status, contentFormatName: 'application/senml+cbor' } });
  });

  it('deletes a device', async () => {
    assert.deepEqual((await call('DELETE', '/devices/{endpoint}', { params: { endpoint: 'j2' } })).body, { deleted: 'device', endpoint: 'j2' });
    assert.equal(await store.getDevice('j2'), undefined);
  });

  it('describes every route in an OpenAPI 3.1 document built from the schemas', async () => {
    const { openApiDocument } = await import('../../functions/admin-api-openapi.ts');
    const { adminApiRoutes } = await import('../../functions/admin-api.ts');
    const document = JSON.parse(JSON.stringify(openApiDocument())) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    assert.equal(document.openapi, '3.1.0');
    const described = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`));
    assert.deepEqual(described.sort(), adminApiRoutes.map((route) => `${route.method} ${route.path} ${route.operationId}`).sort());
    assert.equal(adminApiRoutes.length, 12);
    assert.deepEqual(document.components.schemas['DeviceEntryInput']?.required, ['endpoint', 'profile']);
    assert.ok(document.components.schemas['Profile']?.properties?.['servers']);
    const importParameters = (document.paths['/import']?.['post'] as unknown as { parameters: { name: string }[] }).parameters.map((parameter) => parameter.name);
    assert.deepEqual(importParameters, ['dryRun', 'refuseLowEntropy']);
    assert.ok(document.components.schemas['ImportResult']?.required?.includes('lowEntropy'), 'the answer lists low-entropy rows');
    // Every $ref resolves.
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((match) => match[1]!);
    assert.ok(refs.length > 10);
    for (const ref of refs) assert.ok(document.components.schemas[ref], ref);
  });
});
