import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { decodeBootstrapFile, encodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import {
  buildCardImage,
  cardImageFromJson,
  cardImageToJson,
  CardPaths,
  decodeCardImage,
  encodeCardImage,
  pkcs15ApplicationPath,
  readCardBootstrap,
  resolvePath,
  type CardFile,
  type CardImage,
} from '../../shared/smartcard/card-image.ts';
import { decodeDodf, decodeOdf, encodeApplicationTemplate, PKCS15_AID } from '../../shared/smartcard/pkcs15.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';

const PSK_KEY = '00112233445566778899aabbccddeeff';
const plan = compileBootstrapPlan(
  profileSchema.parse({
    name: 'fleet',
    servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' }],
    bootstrapServer: { uri: 'coap://bs.example' },
  }),
  deviceEntrySchema.parse({ endpoint: 'urn:dev:1', profile: 'fleet', serverCredentials: { '101': { identity: 'dev-1', secretKey: PSK_KEY } } }),
);
const data = encodeBootstrapFile(plan);
const image = buildCardImage(data);

const transparentData = (card: CardImage, path: string): Uint8Array => {
  const file = card.files.get(path);
  assert.ok(file?.structure === 'transparent', `${path} is a binary file`);
  return file.data;
};
const withFile = (card: CardImage, path: string, file: CardFile | undefined): CardImage => {
  const files = new Map(card.files);
  if (file === undefined) files.delete(path);
  else files.set(path, file);
  return { files };
};

describe('UICC card image (LwM2M Core 1.1 Appendix G.2)', () => {
  it('lays the files out where Appendix G and PKCS#15 put them', () => {
    assert.deepEqual([...image.files.keys()].sort(), ['3F00/2F00', '3F00/5015/5031', '3F00/5015/6430', '3F00/5015/6432']);
    assert.equal(pkcs15ApplicationPath(image), '3F00/5015');
    assert.deepEqual(decodeOdf(transparentData(image, CardPaths.odf)).map(({ kind, path }) => [kind, toHex(path!)]), [['dataObjects', '6430']]);
    assert.deepEqual(decodeDodf(transparentData(image, CardPaths.dodf)).map((entry) => entry.type), ['opaque', 'oid']);
    assert.deepEqual(transparentData(image, CardPaths.lwm2mBootstrap), data);
  });

  it('is read as a device reads it (G.2.5): EF(DIR) -> ODF -> DODF -> LwM2M_Bootstrap', () => {
    const read = readCardBootstrap(image);
    assert.equal(read.applicationPath, '3F00/5015');
    assert.equal(read.bootstrapPath, '3F00/5015/6432');
    assert.deepEqual(read.bootstrap, decodeBootstrapFile(data));
    assert.deepEqual(read.bootstrap.servers.map((server) => server.shortServerId), [101]);
  });

  it('pads a larger EF with 0xFF and still reads it', () => {
    const padded = buildCardImage(data, { bootstrapFileSize: 512 });
    const ef = transparentData(padded, CardPaths.lwm2mBootstrap);
    assert.equal(ef.length, 512);
    assert.ok(ef.subarray(data.length).every((byte) => byte === 0xff));
    assert.deepEqual(readCardBootstrap(padded).bootstrap, decodeBootstrapFile(data));
    assert.throws(() => buildCardImage(data, { bootstrapFileSize: data.length - 1 }), RangeError);
  });

  it("reads a card laid out like the nRF UICC reader's test card (oidDO only, doubly wrapped OID)", () => {
    const ef = hex('0001 0036 0000 00 0031 08 00 2e', `c8 00 25 ${ascii('coap://leshan.eclipseprojects.io:5783')}`, 'c1 01 01 c1 02 03', 'ffff');
    const card: CardImage = {
      files: new Map<string, CardFile>([
        [CardPaths.efDir, { structure: 'linear-fixed', records: [Uint8Array.from([...encodeApplicationTemplate({ aid: PKCS15_AID, path: hex('3f00 5015') }), 0xff, 0xff]), new Uint8Array(20).fill(0xff)] }],
        [CardPaths.odf, { structure: 'transparent', data: hex('a706300404026430') }],
        [CardPaths.dodf, { structure: 'transparent', data: hex('a127 3000', `3011 0c0f ${ascii('LwM2M Bootstrap')}`, 'a110 300e 0606 0604672b0901 3004 0402 6432') }],
        [CardPaths.lwm2mBootstrap, { structure: 'transparent', data: ef }],
      ]),
    };
    const read = readCardBootstrap(card);
    assert.equal(read.bootstrapPath, '3F00/5015/6432');
    assert.deepEqual(read.bootstrap.security.map((s) => [s.serverUri, s.bootstrapServer]), [['coap://leshan.eclipseprojects.io:5783', true]]);
  });

  it('resolves PKCS#15 paths: absolute from 3F00, 7FFF as the current application, else relative', () => {
    assert.equal(resolvePath('3F00/5015', hex('6432')), '3F00/5015/6432');
    assert.equal(resolvePath('3F00/5015', hex('3f00 7f10 6f3a')), '3F00/7F10/6F3A');
    assert.equal(resolvePath('3F00/5015', hex('7fff 6432')), '3F00/5015/6432');
  });

  it('round-trips through its JSON form, hex in upper case', () => {
    const text = encodeCardImage(image);
    const json = JSON.parse(text) as { format: string; v: number; files: Record<string, { structure: string; data?: string }> };
    assert.equal(json.format, 'lwm2m-uicc-card-image');
    assert.equal(json.files['3F00/5015/5031']?.data, 'A706300404026430');
    assert.equal(json.files['3F00/2F00']?.structure, 'linear-fixed');
    const back = decodeCardImage(text);
    assert.deepEqual(back, image);
    assert.deepEqual(cardImageToJson(back), cardImageToJson(image));
    assert.deepEqual(readCardBootstrap(back).bootstrap, readCardBootstrap(image).bootstrap);
  });
});

describe('UICC card image: bad input', () => {
  it('names the file a device cannot find or read', () => {
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.efDir, undefined)), 'MALFORMED', { field: '3F00/2F00' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.efDir, { structure: 'transparent', data: new Uint8Array(4) })), 'UNSUPPORTED', { field: '3F00/2F00' });
    const otherApp = encodeApplicationTemplate({ aid: hex('a0000000871002'), path: hex('3f00 7fff') });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.efDir, { structure: 'linear-fixed', records: [otherApp] })), 'MALFORMED', { field: '3F00/2F00' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.odf, undefined)), 'MALFORMED', { field: '3F00/5015/5031' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.odf, { structure: 'transparent', data: hex('a406300404024401') })), 'MALFORMED', { field: '3F00/5015/5031' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.dodf, undefined)), 'MALFORMED', { field: '3F00/5015/6430' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.dodf, { structure: 'transparent', data: new Uint8Array(8).fill(0xff) })), 'MALFORMED', { field: '3F00/5015' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.lwm2mBootstrap, undefined)), 'MALFORMED', { field: '3F00/5015/6432' });
    assertCodecError(() => readCardBootstrap(withFile(image, CardPaths.lwm2mBootstrap, { structure: 'linear-fixed', records: [data.subarray(0, 8)] })), 'MALFORMED', { field: '3F00/5015/6432' });
  });

  it('gives only CodecErrors when any file of the card is damaged', () => {
    const paths = [CardPaths.odf, CardPaths.dodf, CardPaths.lwm2mBootstrap];
    const damaged = fc.constantFrom(...paths).chain((path) => mutatedBytes(fc.constant(transparentData(image, path))).map((bytes) => withFile(image, path, { structure: 'transparent', data: bytes })));
    assertOnlyCodecErrors(damaged, readCardBootstrap, 1500);
    const dir = image.files.get(CardPaths.efDir);
    assert.ok(dir?.structure === 'linear-fixed');
    const record = dir.records[0]!;
    assertOnlyCodecErrors(mutatedBytes(fc.constant(record)).filter((bytes) => bytes.length > 0), (bytes) => readCardBootstrap(withFile(image, CardPaths.efDir, { structure: 'linear-fixed', records: [bytes] })), 500);
  });

  it('rejects JSON that is not a card image, naming where', () => {
    const json = cardImageToJson(image);
    const reject = (value: unknown, field?: string) => assertCodecError(() => cardImageFromJson(value), 'MALFORMED', field === undefined ? {} : { field });
    assertCodecError(() => decodeCardImage('{"format":'), 'MALFORMED');
    reject({ ...json, v: 2 }, '/v');
    reject({ ...json, files: { ...json.files, '3F00/5015/6432': { structure: 'transparent', data: 'ABC' } } }, '/files/3F00~15015~16432/data');
    reject({ ...json, files: { ...json.files, '5015/6432': { structure: 'transparent', data: '' } } });
    reject({ ...json, files: { ...json.files, '3f00/5015': { structure: 'transparent', data: '' } } });
    reject({ ...json, files: { ...json.files, '3F00/2F00': { structure: 'linear-fixed', records: ['00', '0000'] } } }, '/files/3F00~12F00/records');
    reject({ ...json, files: { ...json.files, '3F00/2F00': { structure: 'linear-fixed', records: [] } } }, '/files/3F00~12F00/records');
    reject({ ...json, extra: true });
  });

  it('gives only CodecErrors for damaged card image text', () => {
    const text = new TextEncoder().encode(encodeCardImage(image));
    assertOnlyCodecErrors(mutatedBytes(fc.constant(text)), (bytes) => readCardBootstrap(decodeCardImage(new TextDecoder().decode(bytes))), 500);
  });
});
