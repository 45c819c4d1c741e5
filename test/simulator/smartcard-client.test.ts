/*
 * Bootstrap from Smartcard end to end (LwM2M Core §5.2.2.3, seeds 000 and 001): a card image
 * built from a compiled plan, a simulated UICC with SCP03 keys, a simulated device holding the
 * same keys; registration over real UDP at TestLwm2mServers. Then the card is left alone,
 * swapped, removed, or made unreadable, and the next Update shows what the device did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { encodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import { buildCardImage, type CardImage } from '../../shared/smartcard/card-image.ts';
import { generateScp03KeySet, type Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { SimulatedClient, type SmartcardOptions } from '../../simulator/client.ts';
import { TestLwm2mServer } from '../../simulator/lwm2m-server.ts';
import type { CardConnection } from '../../simulator/smartcard/card-connection.ts';
import { SimulatedUicc } from '../../simulator/smartcard/simulated-uicc.ts';
import { CoapCode } from '../../shared/coap/index.ts';
import { ContentFormat } from '../../shared/content/format.ts';
import { encodeContent } from '../../shared/content/registry.ts';
import { parsePath } from '../../shared/lwm2m/path.ts';
import { CardPaths } from '../../shared/smartcard/card-image.ts';
import { toHex } from '../fixtures/codec-assertions.ts';
import { POST, PUT, ScriptedServer, securityInstance, serverInstance } from './scripted-server.ts';

/** Nothing listens here: a run that reached for the Bootstrap-Server would fail, not pass. */
const UNUSED_BOOTSTRAP_SERVER = { host: '127.0.0.1', port: 9 };
const FACTORY_BS_URI = `coap://127.0.0.1:${UNUSED_BOOTSTRAP_SERVER.port}`;

function cardImageFor(endpoint: string, shortServerId: number, serverUri: string): CardImage {
  const plan = compileBootstrapPlan(
    profileSchema.parse({
      name: 'fleet',
      servers: [{ shortServerId, uri: serverUri, lifetime: 300 }],
      bootstrapServer: { uri: 'coap://bs.card.example' },
    }),
    deviceEntrySchema.parse({ endpoint, profile: 'fleet' }),
  );
  return buildCardImage(encodeBootstrapFile(plan), { bootstrapFileSize: 1024 });
}

const secrets = (keys: Scp03KeySet): string[] => [keys.enc, keys.mac, keys.dek].map(toHex);
const assertNoKeys = (value: unknown, keys: Scp03KeySet): void => {
  const text = JSON.stringify(value).toLowerCase();
  for (const secret of secrets(keys)) assert.ok(!text.includes(secret), 'an SCP03 key appears in the result');
};

describe('SimulatedClient in smartcard mode', () => {
  let serverA: TestLwm2mServer;
  let serverB: TestLwm2mServer;
  const clients: SimulatedClient[] = [];

  before(async () => {
    serverA = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
    serverB = await TestLwm2mServer.start({ port: 0, host: '127.0.0.1' });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await serverA.close();
    await serverB.close();
  });

  const uriOf = (server: TestLwm2mServer): string => `coap://127.0.0.1:${server.port}`;
  const device = (endpoint: string, smartcard: SmartcardOptions): SimulatedClient => {
    const client = new SimulatedClient({
      endpoint,
      version: '1.1',
      bootstrapServer: UNUSED_BOOTSTRAP_SERVER,
      timeouts: { ackTimeoutMs: 300, maxRetransmit: 1, bootstrapIdleMs: 500 },
      smartcard,
    });
    clients.push(client);
    return client;
  };

  it('reads the card over SCP03, applies it and registers at the server it names, without the Bootstrap-Server', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-1', 101, uriOf(serverA)), keys });
    const client = device('sc-1', { card, keys });
    const result = await client.run();
    assert.equal(result.ok, true, result.error);
    assert.equal(result.method, 'smartcard');
    assert.deepEqual(result.steps, ['smartcard-read', 'smartcard-applied', 'register']);
    assert.equal(result.registeredAt?.uri, uriOf(serverA));
    assert.equal(result.registeredAt?.shortServerId, 101);
    const registration = await serverA.waitFor('sc-1');
    assert.equal(registration.lifetime, 300);
    assert.deepEqual(
      result.security.map(({ bootstrapServer, uri, shortServerId }) => ({ bootstrapServer, uri, shortServerId })),
      [
        { bootstrapServer: true, uri: 'coap://bs.card.example', shortServerId: undefined },
        { bootstrapServer: false, uri: uriOf(serverA), shortServerId: 101 },
      ],
      "the card's Bootstrap-Server Account replaced the factory one: a client holds at most one",
    );
    assertNoKeys(result, keys);
  });

  it('an unchanged card: Update goes on after the check', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-2', 101, uriOf(serverA)), keys });
    const client = device('sc-2', { card, keys });
    assert.equal((await client.run()).ok, true);
    const before = card.commandCount;
    const update = await client.update();
    assert.equal(update.ok, true, update.error);
    assert.deepEqual(update.steps, ['smartcard-read', 'smartcard-unchanged', 'update']);
    assert.ok(card.commandCount > before, 'the card was read again');
    assert.equal(update.registeredAt?.location, (await serverA.waitFor('sc-2')).location, 'the same registration');
  });

  it('wrong keys on the device: Scp03Error (card cryptogram), nothing applied, no registration', async () => {
    const keys = generateScp03KeySet();
    const deviceKeys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-3', 101, uriOf(serverA)), keys });
    const result = await device('sc-3', { card, keys: deviceKeys }).run();
    assert.equal(result.ok, false);
    assert.equal(result.smartcardError?.name, 'Scp03Error');
    assert.equal(result.smartcardError?.code, 'CARD_CRYPTOGRAM');
    assert.deepEqual(result.steps, ['smartcard-read', 'smartcard-unreadable']);
    assert.deepEqual(result.security, [{ instanceId: 0, bootstrapServer: true, uri: FACTORY_BS_URI, securityMode: 3 }], 'only the factory account');
    assert.equal(result.registeredAt, undefined);
    assert.ok(!serverA.registrations().some((registration) => registration.endpoint === 'sc-3'));
    assertNoKeys(result, keys);
    assertNoKeys(result, deviceKeys);
  });

  it('a tampered C-MAC on the way to the card: the card answers 6982, nothing applied', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-4', 101, uriOf(serverA)), keys });
    const statusWords: number[] = [];
    let tampered = false;
    const meddler: CardConnection = {
      reset: () => card.reset(),
      transmit: (command) => {
        const bytes = command.slice();
        // The first protected READ BINARY (CLA with the secure messaging bit): flip a C-MAC byte.
        if (!tampered && (bytes[0]! & 0x04) !== 0 && bytes[1] === 0xb0) {
          bytes[5]! ^= 0x01;
          tampered = true;
        }
        const response = card.transmit(bytes);
        statusWords.push((response[response.length - 2]! << 8) | response[response.length - 1]!);
        return response;
      },
    };
    const result = await device('sc-4', { card: meddler, keys }).run();
    assert.ok(tampered);
    assert.equal(statusWords.at(-1), 0x6982);
    assert.equal(result.ok, false);
    assert.equal(result.smartcardError?.code, 'STATUS');
    assert.match(result.error ?? '', /6982/);
    assert.equal(result.security.length, 1, 'only the factory account');
    assert.equal(result.registeredAt, undefined);
  });

  it('a card swapped for one naming another server: the old accounts go and the device registers at the new server', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-5', 101, uriOf(serverA)), keys });
    const client = device('sc-5', { card, keys });
    assert.equal((await client.run()).registeredAt?.uri, uriOf(serverA));
    card.replace(cardImageFor('sc-5', 202, uriOf(serverB)));
    const update = await client.update();
    assert.equal(update.ok, true, update.error);
    assert.deepEqual(update.steps, ['smartcard-read', 'smartcard-changed', 'smartcard-accounts-deleted', 'smartcard-applied', 'register']);
    assert.equal(update.registeredAt?.uri, uriOf(serverB));
    assert.equal(update.registeredAt?.shortServerId, 202);
    await serverB.waitFor('sc-5');
    assert.ok(!update.security.some((account) => account.uri === uriOf(serverA)), 'no account of the old card is left');
    const next = await client.update();
    assert.deepEqual(next.steps, ['smartcard-read', 'smartcard-unchanged', 'update']);
  });

  it('card removed: the accounts it provisioned are deleted, the factory account is back, no registration', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-6', 101, uriOf(serverA)), keys });
    const client = device('sc-6', { card, keys });
    assert.equal((await client.run()).ok, true);
    card.remove();
    const update = await client.update();
    assert.equal(update.ok, false);
    assert.deepEqual(update.steps, ['smartcard-read', 'smartcard-removed', 'smartcard-accounts-deleted']);
    assert.equal(update.registeredAt, undefined);
    assert.deepEqual(update.security, [{ instanceId: 0, bootstrapServer: true, uri: FACTORY_BS_URI, securityMode: 3 }]);
    assert.ok(!client.state().some((object) => object.id === 1 && object.instances.length > 0), 'no Server instance left');
    const again = await client.update();
    assert.equal(again.ok, false, 'not registered any more');
    assert.deepEqual(again.steps, []);
  });

  it('a card that can no longer be opened (other keys) counts as changed: its accounts are deleted', async () => {
    const keys = generateScp03KeySet();
    const image = cardImageFor('sc-7', 101, uriOf(serverA));
    const card = new SimulatedUicc({ image, keys });
    const client = device('sc-7', { card, keys });
    assert.equal((await client.run()).ok, true);
    card.replace(image, { keys: generateScp03KeySet() });
    const update = await client.update();
    assert.equal(update.ok, false);
    assert.deepEqual(update.steps, ['smartcard-read', 'smartcard-unreadable', 'smartcard-accounts-deleted']);
    assert.equal(update.smartcardError?.code, 'CARD_CRYPTOGRAM');
    assert.equal(update.security.length, 1);
  });

  it('seed 001: a client may decline a new card (SHOULD apply), but the old card\'s accounts are deleted all the same (MUST)', async () => {
    const keys = generateScp03KeySet();
    const card = new SimulatedUicc({ image: cardImageFor('sc-8', 101, uriOf(serverA)), keys });
    const onlyServerA = (bootstrap: { readonly security: readonly { readonly serverUri: string }[] }): boolean =>
      bootstrap.security.some((account) => account.serverUri === uriOf(serverA));
    const client = device('sc-8', { card, keys, accept: onlyServerA });
    assert.equal((await client.run()).registeredAt?.uri, uriOf(serverA));
    card.replace(cardImageFor('sc-8', 202, uriOf(serverB)));
    const update = await client.update();
    assert.deepEqual(update.steps, ['smartcard-read', 'smartcard-changed', 'smartcard-accounts-deleted', 'smartcard-declined']);
    assert.equal(update.ok, false);
    assert.ok(!update.security.some((account) => account.uri === uriOf(serverA) || account.uri === uriOf(serverB)));
    assert.ok(!serverB.registrations().some((registration) => registration.endpoint === 'sc-8'));
  });

  it('a card without LwM2M data: the client bootstraps from the Bootstrap-Server as usual, and Update does not consult the card', async () => {
    const bs = await ScriptedServer.start();
    try {
      const keys = generateScp03KeySet();
      const full = cardImageFor('sc-9', 101, uriOf(serverB));
      const files = new Map(full.files);
      files.set(CardPaths.dodf, { structure: 'transparent', data: new Uint8Array(64).fill(0xff) });
      const card = new SimulatedUicc({ image: { files }, keys });
      const client = new SimulatedClient({
        endpoint: 'sc-9',
        version: '1.1',
        bootstrapServer: { host: '127.0.0.1', port: bs.port },
        timeouts: { ackTimeoutMs: 300, maxRetransmit: 2, bootstrapIdleMs: 1500 },
        smartcard: { card, keys },
      });
      clients.push(client);
      const running = client.run();
      const request = await bs.nextRequest();
      bs.reply(request, CoapCode.CHANGED);
      const write = (path: string, tree: Parameters<typeof encodeContent>[1]) =>
        bs.request(request.peer, PUT, { uriPath: path.split('/').slice(1), contentFormat: ContentFormat.TLV }, encodeContent(ContentFormat.TLV, tree, parsePath(path)));
      assert.equal((await write('/0/1', securityInstance(1, uriOf(serverA), 101))).code, CoapCode.CHANGED);
      assert.equal((await write('/1/0', serverInstance(0, 101))).code, CoapCode.CHANGED);
      assert.equal((await bs.request(request.peer, POST, { uriPath: ['bs'] })).code, CoapCode.CHANGED);
      const result = await running;
      assert.equal(result.ok, true, result.error);
      assert.equal(result.method, 'bs');
      assert.deepEqual(result.steps.slice(0, 3), ['smartcard-read', 'smartcard-no-bootstrap-data', 'bootstrap-request']);
      assert.equal(result.registeredAt?.uri, uriOf(serverA));
      const before = card.commandCount;
      const update = await client.update();
      assert.deepEqual(update.steps, ['update']);
      assert.equal(update.ok, true, update.error);
      assert.equal(card.commandCount, before, 'a server the card did not provision needs no card check');
    } finally {
      await bs.close();
    }
  });
});
