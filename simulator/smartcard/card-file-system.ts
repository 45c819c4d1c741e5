/**
 * A UICC's file system behind its Security Domain: the card application that serves a CardImage
 * with the ISO/IEC 7816-4 and ETSI TS 102 221 commands LwM2M Core Appendix G.2 uses. SELECT by
 * file id, by AID (direct application selection, the AIDs read from EF(DIR)) and by path; READ
 * BINARY with offsets; READ RECORD in absolute mode for the linear fixed EF(DIR); MANAGE CHANNEL
 * for the logical channel G.2.1 asks the device to open. Each logical channel has its own
 * current DF and EF, as on a card.
 *
 * Appendix H puts the bootstrap keys behind the SCP03 channel, so the files named in
 * `secureReadPaths` are only read inside a session whose level has every bit of
 * `secureReadLevel`; otherwise the card answers 6982 like a card whose access condition is not
 * met.
 */
import { SW, type CommandApdu, type ResponseApdu } from '../../shared/smartcard/apdu.ts';
import { CardPaths, resolvePath, type CardFile, type CardImage } from '../../shared/smartcard/card-image.ts';
import { derConstructed, derElement } from '../../shared/smartcard/der.ts';
import { decodeApplicationTemplate } from '../../shared/smartcard/pkcs15.ts';
import { SECURITY_LEVEL } from '../../shared/smartcard/security-level.ts';
import type { CardApplication, CardCommandContext } from './scp03-card.ts';

/** Status words this file system answers (ISO/IEC 7816-4 §5.6, ETSI TS 102 221 §10.2.1). */
export const FileStatus = {
  OK: SW.OK,
  /** Warning: end of file reached before Le bytes were read; the bytes that were there come with it. */
  END_OF_FILE: 0x6282,
  WRONG_LENGTH: SW.WRONG_LENGTH,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  INCOMPATIBLE_FILE_STRUCTURE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: SW.SECURITY_STATUS_NOT_SATISFIED,
  NO_CURRENT_EF: 0x6986,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  INCORRECT_P1_P2: SW.INCORRECT_P1_P2,
  /** Wrong parameters P1-P2: an offset outside the EF. */
  WRONG_OFFSET: 0x6b00,
  /** 6Cxx: wrong Le, xx the exact length. */
  WRONG_LE: 0x6c00,
  INS_NOT_SUPPORTED: SW.INS_NOT_SUPPORTED,
  CLA_NOT_SUPPORTED: SW.CLA_NOT_SUPPORTED,
} as const;

export const INS_SELECT = 0xa4;
export const INS_READ_BINARY = 0xb0;
export const INS_READ_RECORD = 0xb2;
export const INS_MANAGE_CHANNEL = 0x70;

/** SELECT P1 (ETSI TS 102 221 §11.1.1). */
export const SelectBy = { FILE_ID: 0x00, DF_NAME: 0x04, PATH_FROM_MF: 0x08, PATH_FROM_CURRENT_DF: 0x09 } as const;
/** SELECT P2: return the FCP template, or nothing. */
export const SelectReturn = { FCP: 0x04, NO_DATA: 0x0c } as const;
/** READ RECORD P2: the record P1 names, in the current EF. */
export const READ_RECORD_ABSOLUTE = 0x04;

const MF = '3F00';
const CURRENT_ADF = '7FFF';
/** Channels 0 to 3, the ones a first-interindustry CLA byte can name. */
const CHANNELS = 4;
const MAX_OFFSET = 0x7fff;

export interface CardFileSystemOptions {
  /** Files read only over a secure channel; default: EF LwM2M_Bootstrap where Appendix G puts it. */
  readonly secureReadPaths?: readonly string[];
  /** The SCP03 level those reads need; default C-MAC, C-DECRYPTION, R-MAC and R-ENCRYPTION (0x33). */
  readonly secureReadLevel?: number;
}

interface ChannelState {
  df: string;
  ef: string | undefined;
  adf: string | undefined;
}

const reply = (sw: number, data: Uint8Array = new Uint8Array(0)): ResponseApdu => ({ data, sw });

export class CardFileSystem {
  readonly #files: ReadonlyMap<string, CardFile>;
  readonly #dfs = new Set<string>([MF]);
  /** AID (hex) -> ADF path, from EF(DIR). */
  readonly #applications = new Map<string, string>();
  readonly #securePaths: ReadonlySet<string>;
  readonly #secureLevel: number;
  readonly #channels = new Map<number, ChannelState>();

  constructor(image: CardImage, options: CardFileSystemOptions = {}) {
    this.#files = image.files;
    for (const path of image.files.keys()) {
      const ids = path.split('/');
      for (let length = 1; length < ids.length; length += 1) this.#dfs.add(ids.slice(0, length).join('/'));
    }
    const dir = image.files.get(CardPaths.efDir);
    for (const record of dir?.structure === 'linear-fixed' ? dir.records : []) {
      try {
        const template = decodeApplicationTemplate(record);
        const path = resolvePath(MF, template.path);
        this.#dfs.add(path);
        this.#applications.set(hex(template.aid), path);
      } catch {
        // An unused (0xFF) or unreadable record names no application.
      }
    }
    this.#securePaths = new Set(options.secureReadPaths ?? [CardPaths.lwm2mBootstrap]);
    this.#secureLevel =
      options.secureReadLevel ?? SECURITY_LEVEL.C_MAC | SECURITY_LEVEL.C_DECRYPTION | SECURITY_LEVEL.R_MAC | SECURITY_LEVEL.R_ENCRYPTION;
    this.reset();
  }

  /** The card application to put behind an Scp03Card. */
  get application(): CardApplication {
    return (command, context) => this.process(command, context);
  }

  /** Power-on state: only the basic channel is open, with the MF current. */
  reset(): void {
    this.#channels.clear();
    this.#channels.set(0, { df: MF, ef: undefined, adf: undefined });
  }

  process(command: CommandApdu, context: CardCommandContext): ResponseApdu {
    // First interindustry CLA: 000000cc, cc the logical channel (the SM bit is gone by now).
    if ((command.cla & 0xfc) !== 0) return reply(FileStatus.CLA_NOT_SUPPORTED);
    const channel = this.#channels.get(command.cla & 0x03);
    if (channel === undefined) return reply(FileStatus.LOGICAL_CHANNEL_NOT_SUPPORTED);
    switch (command.ins) {
      case INS_SELECT:
        return this.#select(channel, command);
      case INS_READ_BINARY:
        return this.#readBinary(channel, command, context);
      case INS_READ_RECORD:
        return this.#readRecord(channel, command, context);
      case INS_MANAGE_CHANNEL:
        return this.#manageChannel(command);
      default:
        return reply(FileStatus.INS_NOT_SUPPORTED);
    }
  }

  #select(channel: ChannelState, command: CommandApdu): ResponseApdu {
    const { p1, p2, data } = command;
    if (p2 !== 0x00 && p2 !== SelectReturn.FCP && p2 !== SelectReturn.NO_DATA) return reply(FileStatus.INCORRECT_P1_P2);
    let target: string | undefined;
    let adf = channel.adf;
    switch (p1) {
      case SelectBy.FILE_ID: {
        if (data.length !== 0 && data.length !== 2) return reply(FileStatus.WRONG_LENGTH);
        const id = hex(data);
        if (id === '' || id === MF) target = MF;
        else if (id === CURRENT_ADF) target = channel.adf;
        else target = `${channel.df}/${id}`;
        break;
      }
      case SelectBy.DF_NAME: {
        if (data.length < 1 || data.length > 16) return reply(FileStatus.WRONG_LENGTH);
        // ETSI TS 102 221 §8.5.2: a right-truncated AID selects the application it starts.
        const aid = hex(data);
        const match = [...this.#applications.entries()].find(([candidate]) => candidate.startsWith(aid));
        target = match?.[1];
        adf = target;
        break;
      }
      case SelectBy.PATH_FROM_MF:
      case SelectBy.PATH_FROM_CURRENT_DF: {
        if (data.length === 0 || data.length % 2 !== 0) return reply(FileStatus.WRONG_LENGTH);
        // Neither kind of path names the MF; only a path from the current DF may start at the current ADF.
        const first = hex(data.subarray(0, 2));
        if (first === MF) target = undefined;
        else if (first === CURRENT_ADF) target = p1 === SelectBy.PATH_FROM_CURRENT_DF && channel.adf !== undefined ? resolvePath(channel.adf, data) : undefined;
        else target = resolvePath(p1 === SelectBy.PATH_FROM_MF ? MF : channel.df, data);
        break;
      }
      default:
        return reply(FileStatus.INCORRECT_P1_P2);
    }
    if (target === undefined) return reply(FileStatus.FILE_NOT_FOUND);
    const file = this.#files.get(target);
    if (file !== undefined) {
      channel.df = parentOf(target);
      channel.ef = target;
    } else if (this.#dfs.has(target)) {
      channel.df = target;
      channel.ef = undefined;
    } else {
      return reply(FileStatus.FILE_NOT_FOUND);
    }
    channel.adf = adf;
    return p2 === SelectReturn.NO_DATA ? reply(FileStatus.OK) : reply(FileStatus.OK, this.#fcp(target, file));
  }

  /** FCP template (ETSI TS 102 221 §11.1.1.4): file descriptor, file id, AID of an ADF, life cycle, size. */
  #fcp(path: string, file: CardFile | undefined): Uint8Array {
    const id = path.split('/').at(-1)!;
    const fileId = derElement(0x83, Uint8Array.of(parseInt(id.slice(0, 2), 16), parseInt(id.slice(2), 16)));
    const operational = derElement(0x8a, Uint8Array.of(0x05));
    if (file === undefined) {
      const aid = [...this.#applications.entries()].find(([, adf]) => adf === path)?.[0];
      const name = aid === undefined ? [] : [derElement(0x84, fromHex(aid))];
      return derConstructed(0x62, [derElement(0x82, Uint8Array.of(0x78, 0x21)), fileId, ...name, operational]);
    }
    if (file.structure === 'transparent') {
      const size = Uint8Array.of(file.data.length >> 8, file.data.length & 0xff);
      return derConstructed(0x62, [derElement(0x82, Uint8Array.of(0x41, 0x21)), fileId, operational, derElement(0x80, size)]);
    }
    const recordLength = file.records[0]?.length ?? 0;
    const size = recordLength * file.records.length;
    return derConstructed(0x62, [
      derElement(0x82, Uint8Array.of(0x42, 0x21, recordLength >> 8, recordLength & 0xff, file.records.length)),
      fileId,
      operational,
      derElement(0x80, Uint8Array.of(size >> 8, size & 0xff)),
    ]);
  }

  #currentEf(channel: ChannelState, context: CardCommandContext): { file: CardFile } | ResponseApdu {
    if (channel.ef === undefined) return reply(FileStatus.NO_CURRENT_EF);
    const file = this.#files.get(channel.ef)!;
    if (this.#securePaths.has(channel.ef) && ((context.securityLevel ?? 0) & this.#secureLevel) !== this.#secureLevel) {
      return reply(FileStatus.SECURITY_STATUS_NOT_SATISFIED);
    }
    return { file };
  }

  #readBinary(channel: ChannelState, command: CommandApdu, context: CardCommandContext): ResponseApdu {
    // P1 b8 set would be a short file identifier; Appendix G never needs one.
    if ((command.p1 & 0x80) !== 0) return reply(FileStatus.FUNCTION_NOT_SUPPORTED);
    const current = this.#currentEf(channel, context);
    if (!('file' in current)) return current;
    const { file } = current;
    if (file.structure !== 'transparent') return reply(FileStatus.INCOMPATIBLE_FILE_STRUCTURE);
    if (command.le === undefined) return reply(FileStatus.WRONG_LENGTH);
    const offset = (command.p1 << 8) | command.p2;
    if (offset > MAX_OFFSET || offset >= file.data.length) return reply(FileStatus.WRONG_OFFSET);
    const data = file.data.slice(offset, offset + command.le);
    // Le 00 (256) means "as much as there is, up to 256"; a shorter Le that overruns the file is warned about.
    const short = data.length < command.le && command.le !== 256;
    return reply(short ? FileStatus.END_OF_FILE : FileStatus.OK, data);
  }

  #readRecord(channel: ChannelState, command: CommandApdu, context: CardCommandContext): ResponseApdu {
    if ((command.p2 & 0x07) !== READ_RECORD_ABSOLUTE) return reply(FileStatus.INCORRECT_P1_P2);
    if (command.p2 >> 3 !== 0) return reply(FileStatus.FUNCTION_NOT_SUPPORTED); // a short file identifier
    const current = this.#currentEf(channel, context);
    if (!('file' in current)) return current;
    const { file } = current;
    if (file.structure !== 'linear-fixed') return reply(FileStatus.INCOMPATIBLE_FILE_STRUCTURE);
    const record = file.records[command.p1 - 1];
    if (command.p1 === 0 || record === undefined) return reply(FileStatus.RECORD_NOT_FOUND);
    if (command.le === undefined) return reply(FileStatus.WRONG_LENGTH);
    if (command.le !== 256 && command.le !== record.length) return reply(FileStatus.WRONG_LE | (record.length & 0xff));
    return reply(FileStatus.OK, record.slice());
  }

  /** MANAGE CHANNEL (ETSI TS 102 221 §11.1.17): open (P1 00) with the card's choice (P2 00), or close (P1 80) channel P2. */
  #manageChannel(command: CommandApdu): ResponseApdu {
    const { p1, p2 } = command;
    if (p1 === 0x00) {
      if (p2 !== 0x00) return reply(FileStatus.INCORRECT_P1_P2);
      for (let number = 1; number < CHANNELS; number += 1) {
        if (this.#channels.has(number)) continue;
        this.#channels.set(number, { df: MF, ef: undefined, adf: undefined });
        return reply(FileStatus.OK, Uint8Array.of(number));
      }
      return reply(FileStatus.FUNCTION_NOT_SUPPORTED); // no channel left
    }
    if (p1 === 0x80) {
      if (p2 === 0 || !this.#channels.has(p2)) return reply(FileStatus.INCORRECT_P1_P2);
      this.#channels.delete(p2);
      return reply(FileStatus.OK);
    }
    return reply(FileStatus.INCORRECT_P1_P2);
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('').toUpperCase();
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}
