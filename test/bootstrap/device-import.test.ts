import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import {
  csvRecordToInput,
  DeviceImportValidator,
  fieldPath,
  ImportFileError,
  importFormatForFile,
  parseCsvHeader,
  parseJsonRow,
} from '../../shared/bootstrap/device-import.ts';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import type { IdentityKind } from '../../shared/bootstrap/store.ts';

const KEY = '00112233445566778899aabbccddeeff';
const SHORT_KEY = '0011223344556677'; // 8 bytes: below the checker's PSK minimum

const fleet: Profile = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com', securityMode: 'psk' }] });
const profiles = new Map([[fleet.name, fleet]]);

const HEADER = ['endpoint', 'profile', 'imsi', 'bootstrap_mode', 'bootstrap_identity', 'bootstrap_key', 'server.101.identity', 'server.101.key'];

function csvValidator(): DeviceImportValidator {
  return new DeviceImportValidator({ profiles, check: checkBootstrapConfiguration, csv: true });
}

function addCsv(validator: DeviceImportValidator, fields: string[], line: number): void {
  const result = csvRecordToInput(parseCsvHeader(HEADER), fields);
  if ('reason' in result) validator.addUnreadable({ row: line - 1, line }, result.reason, result.endpoint);
  else validator.add(result.input, { row: line - 1, line });
}

describe('CSV header', () => {
  it('maps columns to entry fields and per-server credentials', () => {
    const layout = parseCsvHeader(HEADER);
    assert.deepEqual(layout.targets[2], ['identities', 'imsi']);
    assert.deepEqual(layout.targets[7], ['serverCredentials', '101', 'secretKey']);
  });

  it('refuses unknown, repeated and out-of-range columns, and a header without endpoint or profile', () => {
    const cases: [string[], RegExp][] = [
      [['endpoint', 'profile', 'psk'], /unknown column "psk"/],
      [['endpoint', 'profile', 'imsi', 'imsi'], /"imsi" appears twice/],
      [['endpoint', 'profile', 'server.0.key'], /Short Server ID must be 1 to 65534/],
      [['endpoint', 'profile', 'server.101.password'], /unknown column "server.101.password"/],
      [['endpoint', 'imsi'], /needs the columns "endpoint" and "profile"/],
    ];
    for (const [header, message] of cases) {
      assert.throws(() => parseCsvHeader(header), (error) => error instanceof ImportFileError && message.test(error.message) && error.line === 1);
    }
  });
});

describe('CSV records', () => {
  it('builds the nested entry, leaving empty cells absent', () => {
    const result = csvRecordToInput(parseCsvHeader(HEADER), ['ep-1', 'fleet', '', 'psk', 'ep-1-bs', KEY, '', '']);
    assert.deepEqual(result, {
      input: { endpoint: 'ep-1', profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: 'ep-1-bs', secretKey: KEY } },
    });
  });

  it('names a record with the wrong number of fields, and its endpoint', () => {
    assert.deepEqual(csvRecordToInput(parseCsvHeader(HEADER), ['ep-1', 'fleet']), { reason: 'has 2 fields, the header has 8', endpoint: 'ep-1' });
  });
});

describe('DeviceImportValidator', () => {
  it('keeps valid rows in order', () => {
    const validator = csvValidator();
    addCsv(validator, ['ep-1', 'fleet', '001010123456789', 'psk', 'ep-1-bs', KEY, 'ep-1', KEY], 2);
    addCsv(validator, ['ep-2', 'fleet', '', '', '', '', 'ep-2', KEY], 3);
    assert.deepEqual(validator.rejected, []);
    assert.deepEqual(validator.devices.map((device) => device.endpoint), ['ep-1', 'ep-2']);
    assert.equal(validator.devices[0]?.identities.imsi, '001010123456789');
    assert.equal(validator.devices[1]?.serverCredentials['101']?.secretKey, KEY);
  });

  it('reports each rejection with line, endpoint and CSV column, never the key', () => {
    const validator = csvValidator();
    addCsv(validator, ['ep-1', 'fleet', '', 'psk', 'shared-bs', KEY, 'ep-1', KEY], 2);
    addCsv(validator, ['ep-2', 'fleet', '12', '', '', '', 'ep-2', `${KEY}0`], 3); // bad IMSI, odd hex
    addCsv(validator, ['ep-3', 'other', '', '', '', '', 'ep-3', KEY], 4); // unknown profile
    addCsv(validator, ['ep-1', 'fleet', '', '', '', '', 'ep-1b', KEY], 5); // endpoint again
    addCsv(validator, ['ep-5', 'fleet', '', 'psk', 'shared-bs', KEY, 'ep-5', KEY], 6); // PSK identity again
    addCsv(validator, ['ep-6', 'fleet', '', '', '', '', 'ep-6', SHORT_KEY], 7); // checker: PSK too short
    addCsv(validator, ['ep-7', 'fleet'], 8);
    assert.equal(validator.rows, 7);
    assert.equal(validator.rejectedRows, 6);
    assert.deepEqual(validator.devices.map((device) => device.endpoint), ['ep-1']);
    const summary = validator.rejected.map((rejection) => [rejection.line, rejection.endpoint, rejection.field]);
    assert.deepEqual(summary, [
      [3, 'ep-2', 'imsi'],
      [3, 'ep-2', 'server.101.key'],
      [4, 'ep-3', 'profile'],
      [5, 'ep-1', 'endpoint'],
      [6, 'ep-5', 'bootstrap_identity'],
      [7, 'ep-6', 'server.101.key'],
      [8, 'ep-7', '(row)'],
    ]);
    assert.match(validator.rejected[3]!.reason, /already on line 2/);
    assert.match(validator.rejected[4]!.reason, /same bootstrap PSK identity as line 2 \(endpoint ep-1\)/);
    assert.match(validator.rejected[5]!.reason, /8 bytes/);
    const text = JSON.stringify(validator.rejected);
    assert.ok(!text.includes(KEY) && !text.includes(SHORT_KEY) && !text.includes('shared-bs'), text);
  });

  it('names JSON fields by path, unknown keys included, and rows that are not objects', () => {
    const validator = new DeviceImportValidator({ profiles });
    validator.add({ endpoint: 'ep 1', profile: 'fleet', serverCredentials: { '101': { secretKey: 'zz' } }, colour: 'red' }, { row: 1 });
    validator.add(42, { row: 2 });
    assert.deepEqual(
      validator.rejected.map((rejection) => [rejection.row, rejection.field]),
      [
        [1, 'endpoint'],
        [1, 'serverCredentials.101.secretKey'],
        [1, 'colour'],
        [2, '(entry)'],
      ],
    );
    assert.equal(validator.rejected[0]!.endpoint, 'ep 1');
  });

  it('checks 20 000 rows without trouble and finds a duplicate at the end', () => {
    const validator = new DeviceImportValidator({ profiles, check: checkBootstrapConfiguration });
    for (let index = 0; index < 20_000; index += 1) {
      validator.add({ endpoint: `ep-${index}`, profile: 'fleet', serverCredentials: { '101': { identity: `id-${index}`, secretKey: KEY } } }, { row: index + 1 });
    }
    validator.add({ endpoint: 'ep-0', profile: 'fleet', serverCredentials: { '101': { identity: 'x', secretKey: KEY } } }, { row: 20_001 });
    assert.equal(validator.devices.length, 20_000);
    assert.deepEqual(validator.rejected.map((rejection) => [rejection.row, rejection.reason]), [[20_001, 'endpoint already on row 1']]);
  });
});

describe('DeviceImportValidator.checkStoredPskIdentities', () => {
  /** findDevice over a map of stored holders, counting lookups in flight; `shared` identities throw as the DynamoDB store does. */
  function lookupStore(holders: Record<string, string>, shared: readonly string[] = []) {
    const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
    const store = {
      async findDevice(kind: IdentityKind, value: string): Promise<DeviceEntry | undefined> {
        assert.equal(kind, 'pskIdentity');
        stats.calls += 1;
        stats.inFlight += 1;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        stats.inFlight -= 1;
        if (shared.includes(value)) throw new Error('more than one device has this pskIdentity: ep-x, ep-y');
        const endpoint = holders[value];
        return endpoint === undefined ? undefined : deviceEntrySchema.parse({ endpoint, profile: 'fleet' });
      },
    };
    return { store, stats };
  }

  const row = (endpoint: string, identity?: string) => ({
    endpoint,
    profile: 'fleet',
    ...(identity !== undefined && { bootstrapCredentials: { securityMode: 'psk', identity, secretKey: KEY } }),
    serverCredentials: { '101': { identity: endpoint, secretKey: KEY } },
  });

  it('refuses rows whose identity another stored endpoint holds, with bounded lookups, rejections in row order', async () => {
    const validator = new DeviceImportValidator({ profiles, check: checkBootstrapConfiguration });
    for (let index = 1; index <= 200; index += 1) validator.add(row(`ep-${index}`, `id-${index}`), { row: index });
    validator.add(row('ep-201'), { row: 201 }); // no PSK identity: not looked up
    validator.add({ endpoint: 'ep-202' }, { row: 202 }); // schema rejection, before the lookups
    const { store, stats } = lookupStore({ 'id-7': 'stored-a', 'id-150': 'ep-150', 'id-9': 'stored-b' }, ['id-20']);
    await validator.checkStoredPskIdentities(store, 16);
    assert.equal(stats.calls, 200);
    assert.ok(stats.maxInFlight <= 16 && stats.maxInFlight > 1, String(stats.maxInFlight));
    assert.deepEqual(
      validator.rejected.map((rejection) => [rejection.row, rejection.endpoint, rejection.field]),
      [
        [7, 'ep-7', 'bootstrapCredentials.identity'],
        [9, 'ep-9', 'bootstrapCredentials.identity'],
        [20, 'ep-20', 'bootstrapCredentials.identity'],
        [202, 'ep-202', 'profile'],
      ],
    );
    assert.equal(validator.rejected[0]!.reason, 'bootstrap PSK identity already held by stored device stored-a');
    assert.match(validator.rejected[2]!.reason, /^cannot tell whether another stored device holds this bootstrap PSK identity \(more than one device/);
    assert.ok(!JSON.stringify(validator.rejected).includes('id-7'));
    assert.equal(validator.rejectedRows, 4);
    assert.equal(validator.devices.length, 198);
    assert.ok(!validator.devices.some((device) => ['ep-7', 'ep-9', 'ep-20'].includes(device.endpoint)));
    assert.equal(validator.devices.at(-1)?.endpoint, 'ep-201');
  });

  it('lets an identity move away from a stored endpoint the file also imports', async () => {
    const validator = new DeviceImportValidator({ profiles, csv: true });
    validator.add(row('ep-1', 'new-id'), { row: 1, line: 2 });
    validator.add(row('ep-2', 'old-id-of-ep-1'), { row: 2, line: 3 });
    validator.add(row('ep-3', 'old-id-of-ep-9'), { row: 3, line: 4 });
    await validator.checkStoredPskIdentities(lookupStore({ 'old-id-of-ep-1': 'ep-1', 'old-id-of-ep-9': 'ep-9' }).store);
    assert.deepEqual(validator.rejected.map((rejection) => [rejection.line, rejection.field]), [[4, 'bootstrap_identity']]);
    assert.deepEqual(validator.devices.map((device) => device.endpoint), ['ep-1', 'ep-2']);
  });
});

describe('import helpers', () => {
  it('reports broken JSON by position without quoting it', () => {
    const result = parseJsonRow(`{"endpoint":"ep","secretKey":"${KEY}"`);
    assert.ok('reason' in result);
    assert.match(result.reason, /^not valid JSON/);
    assert.ok(!result.reason.includes(KEY));
  });

  it('guesses the format from the file name', () => {
    assert.equal(importFormatForFile('fleet.CSV'), 'csv');
    assert.equal(importFormatForFile('fleet.jsonl'), 'jsonl');
    assert.equal(importFormatForFile('fleet.ndjson'), 'jsonl');
    assert.equal(importFormatForFile('fleet.json'), 'json');
    assert.equal(importFormatForFile('fleet.txt'), undefined);
  });

  it('writes paths as operators read them', () => {
    assert.equal(fieldPath(['servers', 0, 'uri']), 'servers[0].uri');
    assert.equal(fieldPath([]), '(entry)');
  });
});
