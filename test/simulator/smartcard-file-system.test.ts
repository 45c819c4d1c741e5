/*
 * The simulated UICC's file system at the APDU level (ISO/IEC 7816-4, ETSI TS 102 221): what
 * each command answers, including the status words a device must handle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBootstrapPlan } from '../../shared/bootstrap/config.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { decodeResponseApdu, encodeCommandApdu, type CommandApdu, type ResponseApdu } from '../../shared/smartcard/apdu.ts';
import { encodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import { buildCardImage, CardPaths } from '../../shared/smartcard/card-image.ts';
import { encodeApplicationTemplate, PKCS15_AID } from '../../shared/smartcard/pkcs15.ts';
import { generateScp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { CardRemovedError } from '../../simulator/smartcard/card-connection.ts';
import {
  CardFileSystem,
  FileStatus,
  INS_MANAGE_CHANNEL,
  INS_READ_BINARY,
  INS_READ_RECORD,
  INS_SELECT,
  SelectBy,
  SelectReturn,
} from '../../simulator/smartcard/card-file-system.ts';
import { SimulatedUicc } from '../../simulator/smartcard/simulated-uicc.ts';
import { hex, toHex } from '../fixtures/codec-assertions.ts';

const plan = compileBootstrapPlan(
  profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://127.0.0.1:5683' }] }),
  deviceEntrySchema.parse({ endpoint: 'urn:dev:fs', profile: 'fleet' }),
);
const data = encodeBootstrapFile(plan);
const EF_SIZE = 4000;
const image = buildCardImage(data, { bootstrapFileSize: EF_SIZE });
const efBytes = (): Uint8Array => {
  const file = image.files.get(CardPaths.lwm2mBootstrap);
  assert.ok(file?.structure === 'transparent');
  return file.data;
};
const SECURE = { securityLevel: 0x33 };
const EMPTY = new Uint8Array(0);

const select = (p1: number, body: Uint8Array, options: { p2?: number; cla?: number } = {}): CommandApdu => ({
  cla: options.cla ?? 0x00,
  ins: INS_SELECT,
  p1,
  p2: options.p2 ?? SelectReturn.FCP,
  data: body,
  le: 256,
});
const readBinary = (offset: number, le: number | undefined, cla = 0x00): CommandApdu => ({
  cla,
  ins: INS_READ_BINARY,
  p1: offset >> 8,
  p2: offset & 0xff,
  data: EMPTY,
  ...(le === undefined ? {} : { le }),
});
const readRecord = (record: number, le: number | 'none' = 256): CommandApdu => ({
  cla: 0x00,
  ins: INS_READ_RECORD,
  p1: record,
  p2: 0x04,
  data: EMPTY,
  ...(le === 'none' ? {} : { le }),
});
const manageChannel = (p1: number, p2: number): CommandApdu => ({ cla: 0x00, ins: INS_MANAGE_CHANNEL, p1, p2, data: EMPTY, ...(p1 === 0 ? { le: 1 } : {}) });

const sw = (response: ResponseApdu): string => response.sw.toString(16).toUpperCase().padStart(4, '0');

describe('simulated UICC file system (ISO/IEC 7816-4, ETSI TS 102 221)', () => {
  it('SELECT by file id returns an FCP: DF descriptor for the MF, linear fixed with record size and count for EF(DIR)', () => {
    const fs = new CardFileSystem(image);
    const mf = fs.process(select(SelectBy.FILE_ID, hex('3F00')), SECURE);
    assert.equal(sw(mf), '9000');
    assert.equal(toHex(mf.data), '620b8202782183023f008a0105');
    const dir = fs.process(select(SelectBy.FILE_ID, hex('2F00')), SECURE);
    assert.equal(sw(dir), '9000');
    const recordLength = encodeApplicationTemplate({ aid: PKCS15_AID, label: 'PKCS#15', path: hex('3F005015') }).length;
    assert.match(toHex(dir.data), new RegExp(`8205422100${recordLength.toString(16).padStart(2, '0')}01`));
  });

  it('READ RECORD reads EF(DIR) in absolute mode; 6A83 past the last record, 6Cxx for a wrong Le, 6981 for READ BINARY', () => {
    const fs = new CardFileSystem(image);
    fs.process(select(SelectBy.FILE_ID, hex('2F00')), SECURE);
    const first = fs.process(readRecord(1), SECURE);
    assert.equal(sw(first), '9000');
    assert.equal(first.data[0], 0x61, 'an application template');
    assert.equal(sw(fs.process(readRecord(2), SECURE)), '6A83');
    assert.equal(sw(fs.process(readRecord(0), SECURE)), '6A83');
    assert.equal(sw(fs.process(readRecord(1, 3), SECURE)), `6C${first.data.length.toString(16).toUpperCase()}`);
    assert.equal(sw(fs.process(readRecord(1, first.data.length), SECURE)), '9000');
    assert.equal(sw(fs.process(readRecord(1, 'none'), SECURE)), '6700');
    assert.equal(sw(fs.process({ ...readRecord(1), p2: 0x02 }, SECURE)), '6A86', 'only absolute mode');
    assert.equal(sw(fs.process(readBinary(0, 16), SECURE)), '6981');
  });

  it('6986 before an EF is selected; 6A82 for an unknown file id, AID or path', () => {
    const fs = new CardFileSystem(image);
    assert.equal(fs.process(readBinary(0, 16), SECURE).sw, FileStatus.NO_CURRENT_EF);
    assert.equal(sw(fs.process(readRecord(1), SECURE)), '6986');
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('6F07')), SECURE)), '6A82');
    assert.equal(sw(fs.process(select(SelectBy.DF_NAME, hex('A000000087')), SECURE)), '6A82');
    assert.equal(sw(fs.process(select(SelectBy.PATH_FROM_MF, hex('50156F07')), SECURE)), '6A82');
    assert.equal(sw(fs.process(select(SelectBy.PATH_FROM_MF, hex('3F0050156432')), SECURE)), '6A82', 'a path from the MF leaves the MF out');
    assert.equal(sw(fs.process(select(SelectBy.PATH_FROM_CURRENT_DF, hex('7FFF6432')), SECURE)), '6A82', 'no application selected yet');
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('2F')), SECURE)), '6700');
    assert.equal(sw(fs.process(select(0x02, hex('2F00')), SECURE)), '6A86');
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('2F00'), { p2: 0x08 }), SECURE)), '6A86');
  });

  it('SELECT by AID (whole or right-truncated) opens the PKCS#15 ADF; 7FFF and paths lead under it', () => {
    const fs = new CardFileSystem(image);
    const adf = fs.process(select(SelectBy.DF_NAME, PKCS15_AID), SECURE);
    assert.equal(sw(adf), '9000');
    assert.ok(toHex(adf.data).includes(`840c${toHex(PKCS15_AID)}`), 'the FCP names the AID');
    assert.equal(sw(fs.process(select(SelectBy.DF_NAME, PKCS15_AID.subarray(0, 7)), SECURE)), '9000');
    const ef = fs.process(select(SelectBy.PATH_FROM_CURRENT_DF, hex('7FFF6432')), SECURE);
    assert.equal(sw(ef), '9000');
    assert.ok(toHex(ef.data).endsWith(`8002${EF_SIZE.toString(16).padStart(4, '0')}`), 'the FCP gives the file size');
    assert.equal(sw(fs.process(select(SelectBy.PATH_FROM_MF, hex('50155031')), SECURE)), '9000');
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('6430'), { p2: SelectReturn.NO_DATA }), SECURE)), '9000');
    const quiet = fs.process(select(SelectBy.FILE_ID, hex('6432'), { p2: SelectReturn.NO_DATA }), SECURE);
    assert.deepEqual(quiet.data, EMPTY);
  });

  it('READ BINARY honours offsets over a 4000-byte EF; 6B00 past the end, 6282 with what is left when Le overruns', () => {
    const fs = new CardFileSystem(image);
    fs.process(select(SelectBy.PATH_FROM_MF, hex('50156432')), SECURE);
    const read = new Uint8Array(EF_SIZE);
    for (let offset = 0; offset < EF_SIZE; offset += 200) {
      const response = fs.process(readBinary(offset, Math.min(200, EF_SIZE - offset)), SECURE);
      assert.equal(sw(response), '9000');
      read.set(response.data, offset);
    }
    assert.deepEqual(read, efBytes());
    assert.equal(sw(fs.process(readBinary(EF_SIZE, 16), SECURE)), '6B00');
    assert.equal(sw(fs.process(readBinary(0x7fff, 16), SECURE)), '6B00');
    const overrun = fs.process(readBinary(EF_SIZE - 10, 16), SECURE);
    assert.equal(sw(overrun), '6282');
    assert.deepEqual(overrun.data, efBytes().subarray(EF_SIZE - 10));
    const tail = fs.process(readBinary(EF_SIZE - 10, 256), SECURE);
    assert.equal(sw(tail), '9000', 'Le 00 means up to 256 bytes');
    assert.equal(tail.data.length, 10);
    assert.equal(sw(fs.process(readBinary(0, undefined), SECURE)), '6700');
    assert.equal(sw(fs.process({ ...readBinary(0, 16), p1: 0x81 }, SECURE)), '6A81', 'no short file identifiers');
  });

  it('addresses a 32 KB EF up to its last byte', () => {
    const big = buildCardImage(data, { bootstrapFileSize: 32 * 1024 });
    const fs = new CardFileSystem(big);
    fs.process(select(SelectBy.PATH_FROM_MF, hex('50156432')), SECURE);
    const last = fs.process(readBinary(0x7fff, 1), SECURE);
    assert.equal(sw(last), '9000');
    assert.deepEqual(last.data, Uint8Array.of(0xff));
  });

  it('EF LwM2M_Bootstrap is read only inside a session at the configured level (6982); the ODF is always readable', () => {
    const fs = new CardFileSystem(image);
    fs.process(select(SelectBy.PATH_FROM_MF, hex('50156432')), { securityLevel: undefined });
    assert.equal(sw(fs.process(readBinary(0, 16), { securityLevel: undefined })), '6982');
    assert.equal(sw(fs.process(readBinary(0, 16), { securityLevel: 0x13 })), '6982', 'R-ENCRYPTION missing');
    assert.equal(sw(fs.process(readBinary(0, 16), SECURE)), '9000');
    fs.process(select(SelectBy.PATH_FROM_MF, hex('50155031')), { securityLevel: undefined });
    assert.equal(sw(fs.process(readBinary(0, 4), { securityLevel: undefined })), '9000');
    const open = new CardFileSystem(image, { secureReadLevel: 0x13 });
    open.process(select(SelectBy.PATH_FROM_MF, hex('50156432')), SECURE);
    assert.equal(sw(open.process(readBinary(0, 16), { securityLevel: 0x13 })), '9000');
  });

  it('MANAGE CHANNEL opens channels 1 to 3, each with its own selection; 6881 on a closed channel', () => {
    const fs = new CardFileSystem(image);
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('3F00'), { cla: 0x01 }), SECURE)), '6881');
    const opened = [1, 2, 3].map(() => fs.process(manageChannel(0x00, 0x00), SECURE));
    assert.deepEqual(opened.map((response) => [sw(response), response.data[0]]), [['9000', 1], ['9000', 2], ['9000', 3]]);
    assert.equal(sw(fs.process(manageChannel(0x00, 0x00), SECURE)), '6A81', 'no channel left');
    assert.equal(sw(fs.process(select(SelectBy.DF_NAME, PKCS15_AID, { cla: 0x01 }), SECURE)), '9000');
    assert.equal(sw(fs.process(select(SelectBy.FILE_ID, hex('5031'), { cla: 0x01 }), SECURE)), '9000');
    assert.equal(sw(fs.process(readBinary(0, 4, 0x01), SECURE)), '9000');
    assert.equal(sw(fs.process(readBinary(0, 4, 0x00), SECURE)), '6986', 'the basic channel selected nothing');
    assert.equal(sw(fs.process(manageChannel(0x80, 0x01), SECURE)), '9000');
    assert.equal(sw(fs.process(readBinary(0, 4, 0x01), SECURE)), '6881');
    assert.equal(sw(fs.process(manageChannel(0x80, 0x00), SECURE)), '6A86', 'the basic channel stays open');
    assert.equal(sw(fs.process({ ...readBinary(0, 4), cla: 0x80 }, SECURE)), '6E00');
    assert.equal(sw(fs.process({ ...readBinary(0, 4), ins: 0xd6 }, SECURE)), '6D00', 'no UPDATE BINARY: only the issuer writes');
    fs.reset();
    assert.equal(sw(fs.process(readBinary(0, 4, 0x02), SECURE)), '6881', 'a reset closes the logical channels');
  });
});

describe('SimulatedUicc in the slot', () => {
  const keys = generateScp03KeySet();
  const send = (card: SimulatedUicc, command: CommandApdu): ResponseApdu => decodeResponseApdu(card.transmit(encodeCommandApdu(command)));

  it('answers plain commands outside a session but keeps the bootstrap file behind SCP03', () => {
    const card = new SimulatedUicc({ image, keys });
    assert.equal(sw(send(card, select(SelectBy.PATH_FROM_MF, hex('50156432')))), '9000');
    assert.equal(sw(send(card, readBinary(0, 16))), '6982');
    assert.equal(sw(send(card, { ...readBinary(0, 16), cla: 0x04 })), '6982', 'secure messaging without a session');
  });

  it('a removed card answers nothing; reinserted or replaced, it starts from power-on', () => {
    const card = new SimulatedUicc({ image, keys });
    send(card, select(SelectBy.PATH_FROM_MF, hex('50155031')));
    assert.equal(sw(send(card, readBinary(0, 4))), '9000');
    card.remove();
    assert.equal(card.present, false);
    assert.throws(() => card.transmit(encodeCommandApdu(readBinary(0, 4))), CardRemovedError);
    assert.throws(() => card.reset(), CardRemovedError);
    card.insert();
    assert.equal(sw(send(card, readBinary(0, 4))), '6986', 'nothing selected after power-on');
    card.replace(buildCardImage(data));
    assert.equal(card.present, true);
    assert.equal(sw(send(card, select(SelectBy.PATH_FROM_MF, hex('50156432')))), '9000');
    const inserted = new SimulatedUicc({ image, keys, inserted: false });
    assert.throws(() => inserted.transmit(encodeCommandApdu(readBinary(0, 4))), CardRemovedError);
  });
});
