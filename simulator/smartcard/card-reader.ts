/**
 * The device side of Bootstrap from Smartcard: open the SCP03 channel with the static keys the
 * device shares with the card (Appendix H: mutual authentication first), then walk LwM2M Core
 * Appendix G.2.5 with every command protected: EF(DIR) for the PKCS#15 application template,
 * MANAGE CHANNEL and SELECT by AID (G.2.1), EF(ODF), the DODF-bootstrap, EF LwM2M_Bootstrap.
 *
 * A card without a PKCS#15 application or without an LwM2M bootstrap data object is not an
 * error: it is a card with nothing for this client. Everything else that goes wrong is typed:
 * CardRemovedError (empty slot), Scp03Error (the channel, a MAC, or an error status word from the
 * card), CodecError (a file that does not parse). None of them carries key material.
 */
import { createHash } from 'node:crypto';
import { decodeResponseApdu, encodeCommandApdu, SW, statusWordHex, type CommandApdu, type ResponseApdu } from '../../shared/smartcard/apdu.ts';
import { decodeBootstrapFile, MAX_BOOTSTRAP_FILE_BYTES, type SmartcardBootstrap } from '../../shared/smartcard/bootstrap-file.ts';
import { resolvePath } from '../../shared/smartcard/card-image.ts';
import { childScope, readDerElement, readDerElements, scopeOf } from '../../shared/smartcard/der.ts';
import { Scp03HostChannel } from '../../shared/smartcard/host-channel.ts';
import {
  decodeApplicationTemplate,
  decodeDodf,
  decodeOdf,
  EF_DIR_FID,
  EF_ODF_FID,
  lwm2mBootstrapPath,
  MF_FID,
  PKCS15_AID,
  type ApplicationTemplate,
} from '../../shared/smartcard/pkcs15.ts';
import { Scp03Error } from '../../shared/smartcard/scp03-error.ts';
import type { Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { SECURITY_LEVEL } from '../../shared/smartcard/security-level.ts';
import { CodecError } from '../../shared/errors.ts';
import type { CardConnection } from './card-connection.ts';
import { INS_MANAGE_CHANNEL, INS_READ_BINARY, INS_READ_RECORD, INS_SELECT, READ_RECORD_ABSOLUTE, SelectBy, SelectReturn } from './card-file-system.ts';

/** C-MAC, C-DECRYPTION, R-MAC and R-ENCRYPTION: the bootstrap keys cross the interface encrypted both ways. */
export const DEFAULT_SMARTCARD_SECURITY_LEVEL =
  SECURITY_LEVEL.C_MAC | SECURITY_LEVEL.C_DECRYPTION | SECURITY_LEVEL.R_MAC | SECURITY_LEVEL.R_ENCRYPTION;

/**
 * Bytes per READ BINARY: with R-ENCRYPTION and R-MAC, 239 plaintext bytes become 240 padded and
 * 8 of MAC, the most a short response (256) holds. A multiple of 16 keeps the arithmetic plain.
 */
const READ_CHUNK = 224;

export interface SmartcardReadOptions {
  readonly keys: Scp03KeySet;
  /** SCP03 level for the session; default DEFAULT_SMARTCARD_SECURITY_LEVEL (0x33). */
  readonly securityLevel?: number;
}

export type SmartcardReadResult =
  | {
      readonly status: 'bootstrap';
      readonly bootstrap: SmartcardBootstrap;
      /** SHA-256 of EF LwM2M_Bootstrap as read (hex): what tells a changed card from the same one. */
      readonly fingerprint: string;
      readonly applicationPath: string;
      readonly bootstrapPath: string;
    }
  | { readonly status: 'no-bootstrap-data'; readonly reason: string };

/** Reads the card's Bootstrap Information over a fresh SCP03 session (G.2.5 within Appendix H). */
export async function readSmartcard(card: CardConnection, options: SmartcardReadOptions): Promise<SmartcardReadResult> {
  const host = new Scp03HostChannel({ keys: options.keys, securityLevel: options.securityLevel ?? DEFAULT_SMARTCARD_SECURITY_LEVEL });
  try {
    // A warm reset first: whatever an earlier, failed read left open on the card is gone.
    await card.reset?.();
    const send = async (command: CommandApdu): Promise<ResponseApdu> => decodeResponseApdu(await card.transmit(encodeCommandApdu(command)));
    const externalAuthenticate = host.externalAuthenticate(await send(host.initializeUpdate()));
    host.confirm(await send(externalAuthenticate));
    const session = new CardSession(async (command) => host.unwrap(await send(host.wrap(command))));
    return await session.readBootstrap();
  } finally {
    host.close();
  }
}

type Exchange = (command: CommandApdu) => Promise<ResponseApdu>;

interface SelectedFile {
  readonly found: boolean;
  readonly size: number;
  readonly records: { readonly length: number; readonly count: number } | undefined;
}

const fid = (id: number): Uint8Array => Uint8Array.of(id >> 8, id & 0xff);
const CURRENT_ADF = fid(0x7fff);
const NOT_FOUND: SelectedFile = { found: false, size: 0, records: undefined };

class CardSession {
  readonly #exchange: Exchange;
  #channel = 0;

  constructor(exchange: Exchange) {
    this.#exchange = exchange;
  }

  async readBootstrap(): Promise<SmartcardReadResult> {
    // G.2.1: the PKCS#15 AID as EF(DIR) lists it.
    await this.#select(SelectBy.FILE_ID, fid(MF_FID), 'MF');
    const dir = await this.#select(SelectBy.FILE_ID, fid(EF_DIR_FID), 'EF(DIR)');
    if (!dir.found) return { status: 'no-bootstrap-data', reason: 'the card has no EF(DIR)' };
    if (dir.records === undefined) throw new CodecError('UNSUPPORTED', 'EF(DIR) is not a linear fixed file', { field: 'EF(DIR)' });
    const application = await this.#pkcs15Application(dir.records.count);
    if (application === undefined) return { status: 'no-bootstrap-data', reason: 'EF(DIR) lists no PKCS#15 application' };

    const opened = await this.#command({ cla: 0x00, ins: INS_MANAGE_CHANNEL, p1: 0x00, p2: 0x00, data: new Uint8Array(0), le: 1 }, 'MANAGE CHANNEL');
    const channel = opened.data[0];
    if (opened.data.length !== 1 || channel === undefined || channel < 1 || channel > 3) {
      throw new CodecError('MALFORMED', 'MANAGE CHANNEL did not name a channel 1 to 3', { field: 'MANAGE CHANNEL' });
    }
    this.#channel = channel;
    // After a failure the secure channel is gone, so the logical channel is left to the next card reset.
    const result = await this.#readApplication(application);
    this.#channel = 0;
    await this.#command({ cla: 0x00, ins: INS_MANAGE_CHANNEL, p1: 0x80, p2: channel, data: new Uint8Array(0) }, 'MANAGE CHANNEL (close)');
    return result;
  }

  async #readApplication(application: ApplicationTemplate): Promise<SmartcardReadResult> {
    const adf = await this.#select(SelectBy.DF_NAME, application.aid, 'PKCS#15 application');
    if (!adf.found) throw new Scp03Error('STATUS', 'the PKCS#15 application EF(DIR) names cannot be selected', FILE_NOT_FOUND_SW);
    const applicationPath = resolvePath(hexId(MF_FID), application.path);
    const odf = await this.#readTransparent(SelectBy.PATH_FROM_CURRENT_DF, concat(CURRENT_ADF, fid(EF_ODF_FID)), 'EF(ODF)');
    if (odf === undefined) throw new CodecError('MALFORMED', 'the PKCS#15 application has no EF(ODF)', { field: 'EF(ODF)' });
    // G.1: DODFs in priority order, the first one that lists the LwM2M bootstrap object wins.
    for (const entry of decodeOdf(odf)) {
      if (entry.kind !== 'dataObjects' || entry.path === undefined) continue;
      const dodf = await this.#readPath(entry.path, 'EF(DODF)');
      if (dodf === undefined) throw new CodecError('MALFORMED', 'EF(ODF) points at a DODF the card does not have', { field: 'EF(ODF)' });
      const target = lwm2mBootstrapPath(decodeDodf(dodf));
      if (target === undefined) continue;
      const data = await this.#readPath(target, 'EF LwM2M_Bootstrap');
      if (data === undefined) throw new CodecError('MALFORMED', 'the DODF points at a bootstrap file the card does not have', { field: 'EF(DODF)' });
      const fingerprint = createHash('sha256').update(data).digest('hex');
      return {
        status: 'bootstrap',
        bootstrap: decodeBootstrapFile(data),
        fingerprint,
        applicationPath,
        bootstrapPath: resolvePath(applicationPath, target),
      };
    }
    return { status: 'no-bootstrap-data', reason: 'no DODF lists an LwM2M bootstrap data object' };
  }

  async #pkcs15Application(count: number): Promise<ApplicationTemplate | undefined> {
    for (let number = 1; number <= count; number += 1) {
      const response = await this.#command(
        { cla: this.#channel, ins: INS_READ_RECORD, p1: number, p2: READ_RECORD_ABSOLUTE, data: new Uint8Array(0), le: 256 },
        'READ RECORD EF(DIR)',
      );
      if (response.data.every((byte) => byte === 0xff)) continue; // an unused record
      const template = decodeApplicationTemplate(response.data);
      if (sameBytes(template.aid, PKCS15_AID)) return template;
    }
    return undefined;
  }

  /** A PKCS#15 path as SELECT takes it: from the MF when it starts with 3F00, else from the application (7FFF). */
  async #readPath(path: Uint8Array, what: string): Promise<Uint8Array | undefined> {
    const absolute = path[0] === 0x3f && path[1] === 0x00;
    if (absolute) return this.#readTransparent(SelectBy.PATH_FROM_MF, path.subarray(2), what);
    const fromAdf = path[0] === 0x7f && path[1] === 0xff ? path : concat(CURRENT_ADF, path);
    return this.#readTransparent(SelectBy.PATH_FROM_CURRENT_DF, fromAdf, what);
  }

  async #readTransparent(by: number, data: Uint8Array, what: string): Promise<Uint8Array | undefined> {
    const file = await this.#select(by, data, what);
    if (!file.found) return undefined;
    if (file.records !== undefined) throw new CodecError('MALFORMED', 'expected a binary (transparent) file', { field: what });
    // G.3.3: the bootstrap file "is limited to 32KB", and READ BINARY cannot address beyond 0x7FFF.
    if (file.size > MAX_BOOTSTRAP_FILE_BYTES) throw new CodecError('LIMIT_EXCEEDED', `${file.size} bytes exceeds the 32 KB a card file may hold`, { field: what });
    const out = new Uint8Array(file.size);
    for (let offset = 0; offset < file.size; offset += READ_CHUNK) {
      const le = Math.min(READ_CHUNK, file.size - offset);
      const response = await this.#command(
        { cla: this.#channel, ins: INS_READ_BINARY, p1: offset >> 8, p2: offset & 0xff, data: new Uint8Array(0), le },
        `READ BINARY ${what}`,
      );
      if (response.data.length !== le) throw new CodecError('TRUNCATED', `READ BINARY gave ${response.data.length} of ${le} bytes`, { offset, field: what });
      out.set(response.data, offset);
    }
    return out;
  }

  async #select(by: number, data: Uint8Array, what: string): Promise<SelectedFile> {
    const response = await this.#exchange({ cla: this.#channel, ins: INS_SELECT, p1: by, p2: SelectReturn.FCP, data, le: 256 });
    if (response.sw === FILE_NOT_FOUND_SW) return NOT_FOUND;
    if (response.sw !== SW.OK) throw new Scp03Error('STATUS', `SELECT ${what} answered ${statusWordHex(response.sw)}`, response.sw);
    return decodeFcp(response.data, what);
  }

  async #command(command: CommandApdu, what: string): Promise<ResponseApdu> {
    const response = await this.#exchange(command);
    if (response.sw !== SW.OK) throw new Scp03Error('STATUS', `${what} answered ${statusWordHex(response.sw)}`, response.sw);
    return response;
  }
}

const FILE_NOT_FOUND_SW = 0x6a82;

/** The FCP template's file descriptor (82) and file size (80), ETSI TS 102 221 §11.1.1.4. */
function decodeFcp(bytes: Uint8Array, what: string): SelectedFile {
  const field = `FCP of ${what}`;
  const scope = scopeOf(bytes);
  const template = readDerElement(scope, 0, field);
  if (template.tag !== 0x62 || template.end !== bytes.length) throw new CodecError('MALFORMED', 'expected one FCP template (62)', { field });
  let size = 0;
  let records: SelectedFile['records'];
  for (const element of readDerElements(childScope(scope, template), field)) {
    const { content } = element;
    if (element.tag === 0x80) size = content.reduce((total, byte) => total * 256 + byte, 0);
    if (element.tag === 0x82 && content.length >= 5 && (content[0]! & 0x07) === 0x02) {
      records = { length: (content[2]! << 8) | content[3]!, count: content[4]! };
    }
  }
  return { found: true, size, records };
}

function hexId(id: number): string {
  return id.toString(16).toUpperCase().padStart(4, '0');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
