import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { scp03KeyRecordSchema } from '../../shared/bootstrap/credentials.ts';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { encodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import { CardPaths, decodeCardImage, readCardBootstrap } from '../../shared/smartcard/card-image.ts';
import { keyCheckValue, scp03KeySetFromRecord } from '../../shared/smartcard/scp03-keys.ts';
import { cardKeys, scp03KeysDocument, smartcardFiles, type Scp03KeysDocument } from '../../shared/smartcard/smartcard-export.ts';

const SCP03 = scp03KeyRecordSchema.parse({ keyVersion: 0x30, enc: '404142434445464748494a4b4c4d4e4f', mac: '505152535455565758595a5b5c5d5e5f', dek: '606162636465666768696a6b6c6d6e6f' });
const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});
const device = (scp03?: typeof SCP03): DeviceEntry =>
  deviceEntrySchema.parse({
    endpoint: 'urn:dev:card-1',
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: 'card-1-bs', secretKey: '0102030405060708090a0b0c0d0e0f10' },
    serverCredentials: { '101': { identity: 'card-1', secretKey: 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0' } },
    ...(scp03 !== undefined && { smartcard: { scp03 } }),
  });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('smartcard export', () => {
  it('makes the card image, the raw EF LwM2M_Bootstrap and the SCP03 keys file, each with its media type', () => {
    const plan = compileBootstrapPlan(PROFILE, device());
    const files = smartcardFiles(plan, SCP03);
    assert.deepEqual(
      files.map(({ name, mediaType }) => ({ name, mediaType })),
      [
        { name: 'card-image.json', mediaType: 'application/json' },
        { name: 'lwm2m-bootstrap.bin', mediaType: 'application/octet-stream' },
        { name: 'scp03-keys.json', mediaType: 'application/json' },
      ],
    );
    const [image, bin, keys] = files;
    assert.deepEqual(bin?.bytes, encodeBootstrapFile(plan));
    // A device reading the card finds the same EF the .bin holds.
    const cardImage = decodeCardImage(text(image!.bytes));
    assert.equal(readCardBootstrap(cardImage).bootstrapPath, CardPaths.lwm2mBootstrap);
    const onCard = cardImage.files.get(CardPaths.lwm2mBootstrap);
    assert.ok(onCard?.structure === 'transparent');
    assert.deepEqual(onCard.data, bin?.bytes);
    assert.ok(text(keys!.bytes).endsWith('}\n'));
    assert.deepEqual(JSON.parse(text(keys!.bytes)), scp03KeysDocument(SCP03));
  });

  it('gives each SCP03 key its key check value, and the keys as stored', () => {
    const document: Scp03KeysDocument = scp03KeysDocument(SCP03);
    const keys = scp03KeySetFromRecord(SCP03);
    assert.deepEqual(document.kcv, { enc: hex(keyCheckValue(keys.enc)), mac: hex(keyCheckValue(keys.mac)), dek: hex(keyCheckValue(keys.dek)) });
    assert.match(document.kcv.enc, /^[0-9a-f]{6}$/);
    assert.notEqual(document.kcv.enc, document.kcv.mac);
    assert.deepEqual({ keyVersion: document.keyVersion, enc: document.enc, mac: document.mac, dek: document.dek }, SCP03);
  });

  it('reuses a device\'s stored keys, even when generation is allowed', () => {
    for (const generate of [false, true]) assert.deepEqual(cardKeys(device(SCP03), generate), { record: SCP03, generated: false });
  });

  it('generates fresh keys only when allowed, and never the same twice', () => {
    assert.equal(cardKeys(device(), false), undefined);
    const first = cardKeys(device(), true);
    const second = cardKeys(device(), true);
    assert.equal(first?.generated, true);
    assert.deepEqual(scp03KeyRecordSchema.parse(first.record), first.record);
    assert.notEqual(first.record.enc, second?.record.enc);
    assert.equal(new Set([first.record.enc, first.record.mac, first.record.dek]).size, 3);
  });
});
