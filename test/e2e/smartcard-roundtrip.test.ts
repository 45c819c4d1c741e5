import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { scp03KeyRecordSchema } from '../../shared/bootstrap/credentials.ts';
import { decodeCardImage } from '../../shared/smartcard/card-image.ts';
import { scp03KeySetFromRecord } from '../../shared/smartcard/scp03-keys.ts';
import { SimulatedClient } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import { SimulatedUicc } from '../../simulator/smartcard/simulated-uicc.ts';

const run = promisify(execFile);
const BIN = new URL('../../cli/bin.mjs', import.meta.url).pathname;

/**
 * Bootstrap from Smartcard end to end: the operator's `lwm2m-bs` (a real process on a real data
 * directory) exports the UICC files and SCP03 keys; a simulated card is loaded from those files
 * exactly as written; a simulated device opens SCP03 with the exported keys, reads the card and
 * registers with the server the card names. Then the card is swapped for another device's.
 */
describe('smartcard round trip: export -> simulated card -> simulated device -> registration', () => {
  let dataDir: string;
  let out: string;
  let serverA: TestLwm2mServer;
  let serverB: TestLwm2mServer;

  const cli = (...args: string[]) => run(process.execPath, [BIN, ...args, '--data-dir', dataDir], { timeout: 30_000 });

  async function loadCard(endpoint: string): Promise<{ image: ReturnType<typeof decodeCardImage>; keys: ReturnType<typeof scp03KeySetFromRecord> }> {
    const image = decodeCardImage(await readFile(join(out, endpoint, 'card-image.json'), 'utf8'));
    // The key file also carries key check values, for the people loading it; the keys are the rest.
    const record = JSON.parse(await readFile(join(out, endpoint, 'scp03-keys.json'), 'utf8')) as Record<string, unknown>;
    delete record['kcv'];
    const keys = scp03KeySetFromRecord(scp03KeyRecordSchema.parse(record));
    return { image, keys };
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-card-'));
    out = join(dataDir, 'cards');
    serverA = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    serverB = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    const profile = (name: string, port: number) => ({
      name,
      servers: [{ shortServerId: 101, uri: `coap://127.0.0.1:${port}`, securityMode: 'nosec', lifetime: 300, binding: 'U' }],
      bootstrapServer: { uri: 'coaps://127.0.0.1:5684' },
    });
    await writeFile(join(dataDir, 'a.json'), JSON.stringify(profile('card-a', serverA.port)));
    await writeFile(join(dataDir, 'b.json'), JSON.stringify(profile('card-b', serverB.port)));
    await writeFile(join(dataDir, 'devices.json'), JSON.stringify([
      { endpoint: 'meter-a', profile: 'card-a', bootstrapCredentials: { securityMode: 'psk', identity: 'meter-a-bs', secretKey: '00112233445566778899aabbccddeeff' } },
      { endpoint: 'meter-b', profile: 'card-b', bootstrapCredentials: { securityMode: 'psk', identity: 'meter-b-bs', secretKey: 'ffeeddccbbaa99887766554433221100' } },
    ]));
    await cli('profile', 'put', join(dataDir, 'a.json'));
    await cli('profile', 'put', join(dataDir, 'b.json'));
    await cli('import', join(dataDir, 'devices.json'));
    await cli('export', 'smartcard', 'meter-a', 'meter-b', '--out', out, '--include-keys', '--generate-scp03-keys');
  });

  after(async () => {
    await serverA.close();
    await serverB.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a device reads the exported card over SCP03 and registers with the server the card names', async () => {
    const { image, keys } = await loadCard('meter-a');
    const card = new SimulatedUicc({ image, keys });
    // The bootstrap server is never contacted in this mode: an unused port proves it.
    const client = new SimulatedClient({ endpoint: 'meter-a', version: '1.1', bootstrapServer: { host: '127.0.0.1', port: 9 }, smartcard: { card, keys } });
    try {
      const result = await client.run();
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'smartcard');
      assert.equal(result.registeredAt?.uri, `coap://127.0.0.1:${serverA.port}`);
      assert.ok(serverA.registrations().some((registration) => registration.endpoint === 'meter-a'));
      const account = result.security.find((summary) => summary.bootstrapServer);
      assert.equal(account?.uri, 'coaps://127.0.0.1:5684', 'the card carries the Bootstrap-Server account too');

      // The card re-personalised with meter-b's bootstrap file (same SCP03 keys): at the next
      // Update the old card's accounts go and the device registers where the new file says.
      card.replace((await loadCard('meter-b')).image, { keys });
      const swapped = await client.update();
      assert.equal(swapped.ok, true, swapped.error);
      assert.equal(swapped.registeredAt?.uri, `coap://127.0.0.1:${serverB.port}`);
      assert.ok(serverB.registrations().some((registration) => registration.endpoint === 'meter-a'));

      // The card removed: what it provisioned is deleted and the device registers nowhere.
      card.remove();
      const removed = await client.update();
      assert.equal(removed.ok, false);
      assert.deepEqual(
        client.state().find((object) => object.id === 1)?.instances ?? [],
        [],
        'no LwM2M server account is left from the removed card',
      );
    } finally {
      await client.close();
    }
  });

  it('the device cannot read a card whose SCP03 keys it does not share, and applies nothing', async () => {
    const { image } = await loadCard('meter-b');
    const wrongKeys = (await loadCard('meter-a')).keys;
    const rightKeys = (await loadCard('meter-b')).keys;
    const card = new SimulatedUicc({ image, keys: rightKeys });
    const client = new SimulatedClient({ endpoint: 'meter-b', version: '1.1', bootstrapServer: { host: '127.0.0.1', port: 9 }, smartcard: { card, keys: wrongKeys } });
    try {
      const result = await client.run();
      assert.equal(result.ok, false);
      assert.equal(result.smartcardError?.code, 'CARD_CRYPTOGRAM');
      assert.equal(serverB.registrations().some((registration) => registration.endpoint === 'meter-b'), false);
    } finally {
      await client.close();
    }
  });
});
