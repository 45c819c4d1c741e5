/*
 * The device's card reader against the simulated UICC: SCP03 first (Appendix H), then the
 * Appendix G.2.5 walk, with every failure typed and nothing of the keys in any message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { isCodecError } from '../../shared/errors.ts';
import { decodeBootstrapFile, encodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import { buildCardImage, CardPaths, type CardFile, type CardImage } from '../../shared/smartcard/card-image.ts';
import { encodeApplicationTemplate } from '../../shared/smartcard/pkcs15.ts';
import { isScp03Error } from '../../shared/smartcard/scp03-error.ts';
import { generateScp03KeySet, type Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { CardRemovedError } from '../../simulator/smartcard/card-connection.ts';
import { readSmartcard } from '../../simulator/smartcard/card-reader.ts';
import { SimulatedUicc } from '../../simulator/smartcard/simulated-uicc.ts';
import { hex, toHex } from '../fixtures/codec-assertions.ts';

const plan = compileBootstrapPlan(
  profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://127.0.0.1:5683' }], bootstrapServer: { uri: 'coap://bs.example' } }),
  deviceEntrySchema.parse({ endpoint: 'urn:dev:reader', profile: 'fleet' }),
);
const data = encodeBootstrapFile(plan);
const image = buildCardImage(data);
const withFile = (card: CardImage, path: string, file: CardFile | undefined): CardImage => {
  const files = new Map(card.files);
  if (file === undefined) files.delete(path);
  else files.set(path, file);
  return { files };
};
const keyHex = (keys: Scp03KeySet): string[] => [keys.enc, keys.mac, keys.dek].map(toHex);

describe('card reader (Appendix G.2.5 over SCP03)', () => {
  const keys = generateScp03KeySet();

  it('reads and decodes the bootstrap file, with a SHA-256 fingerprint of the EF', async () => {
    const card = new SimulatedUicc({ image, keys });
    const read = await readSmartcard(card, { keys });
    assert.equal(read.status, 'bootstrap');
    assert.ok(read.status === 'bootstrap');
    assert.deepEqual(read.bootstrap, decodeBootstrapFile(data));
    assert.equal(read.applicationPath, '3F00/5015');
    assert.equal(read.bootstrapPath, CardPaths.lwm2mBootstrap);
    assert.match(read.fingerprint, /^[0-9a-f]{64}$/);
    const again = await readSmartcard(card, { keys });
    assert.ok(again.status === 'bootstrap');
    assert.equal(again.fingerprint, read.fingerprint, 'the same file, the same fingerprint');
    card.replace(buildCardImage(encodeBootstrapFile(compileBootstrapPlan(profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 7, uri: 'coap://other' }] }), deviceEntrySchema.parse({ endpoint: 'x', profile: 'fleet' })))));
    const other = await readSmartcard(card, { keys });
    assert.ok(other.status === 'bootstrap');
    assert.notEqual(other.fingerprint, read.fingerprint);
  });

  it('reads a 32 KB EF in READ BINARY chunks that fit a short response at every level', async () => {
    for (const securityLevel of [0x13, 0x33]) {
      const big = buildCardImage(data, { bootstrapFileSize: 32 * 1024 });
      const card = new SimulatedUicc({ image: big, keys, secureReadLevel: 0x13 });
      let longest = 0;
      const watched = {
        transmit: (command: Uint8Array): Uint8Array => {
          const response = card.transmit(command);
          longest = Math.max(longest, response.length - 2);
          return response;
        },
      };
      const read = await readSmartcard(watched, { keys, securityLevel });
      assert.ok(read.status === 'bootstrap');
      assert.ok(longest <= 256, `a response of ${longest} bytes does not fit a short APDU`);
      assert.deepEqual(read.bootstrap.servers.map((server) => server.shortServerId), [101]);
    }
  });

  it('wrong static keys: Scp03Error CARD_CRYPTOGRAM, and no key in the message', async () => {
    const card = new SimulatedUicc({ image, keys });
    const wrong = generateScp03KeySet();
    await assert.rejects(readSmartcard(card, { keys: wrong }), (error: unknown) => {
      assert.ok(isScp03Error(error));
      assert.equal(error.code, 'CARD_CRYPTOGRAM');
      for (const secret of [...keyHex(keys), ...keyHex(wrong)]) assert.ok(!error.message.toLowerCase().includes(secret));
      return true;
    });
  });

  it('a session below the card\'s access level: the card refuses the bootstrap EF with 6982', async () => {
    const card = new SimulatedUicc({ image, keys });
    await assert.rejects(readSmartcard(card, { keys, securityLevel: 0x13 }), (error: unknown) => isScp03Error(error) && error.statusWord === 0x6982);
    const read = await readSmartcard(card, { keys });
    assert.equal(read.status, 'bootstrap', 'the next read resets the card and succeeds');
  });

  it('an empty slot: CardRemovedError', async () => {
    const card = new SimulatedUicc({ image, keys, inserted: false });
    await assert.rejects(readSmartcard(card, { keys }), CardRemovedError);
  });

  it('a card without a PKCS#15 application or without LwM2M data holds no bootstrap data', async () => {
    const noDir = new SimulatedUicc({ image: withFile(image, CardPaths.efDir, undefined), keys });
    assert.deepEqual(await readSmartcard(noDir, { keys }), { status: 'no-bootstrap-data', reason: 'the card has no EF(DIR)' });
    const otherApp = withFile(image, CardPaths.efDir, {
      structure: 'linear-fixed',
      records: [encodeApplicationTemplate({ aid: hex('A0000000871002'), path: hex('3F007FF0') })],
    });
    const usim = await readSmartcard(new SimulatedUicc({ image: otherApp, keys }), { keys });
    assert.equal(usim.status, 'no-bootstrap-data');
    const noDodfEntry = withFile(image, CardPaths.dodf, { structure: 'transparent', data: new Uint8Array(32).fill(0xff) });
    const empty = await readSmartcard(new SimulatedUicc({ image: noDodfEntry, keys }), { keys });
    assert.deepEqual(empty, { status: 'no-bootstrap-data', reason: 'no DODF lists an LwM2M bootstrap data object' });
  });

  it('a bootstrap file that does not parse, or a DODF pointing nowhere: CodecError', async () => {
    const broken = new Uint8Array(data);
    broken[1] = 9; // announces nine objects
    const card = new SimulatedUicc({ image: withFile(image, CardPaths.lwm2mBootstrap, { structure: 'transparent', data: broken }), keys });
    await assert.rejects(readSmartcard(card, { keys }), isCodecError);
    const dangling = new SimulatedUicc({ image: withFile(image, CardPaths.lwm2mBootstrap, undefined), keys });
    await assert.rejects(readSmartcard(dangling, { keys }), (error: unknown) => isCodecError(error) && /bootstrap file the card does not have/.test(error.message));
  });
});
