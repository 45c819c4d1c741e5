/**
 * SCP03 secure messaging (Amendment D section 6.2.4 to 6.2.7) for one session, used by both ends:
 * the host protects commands and verifies responses, the card verifies commands and protects
 * responses. The session keys live in private fields, so printing the object shows none of them.
 *
 * - C-MAC: CMAC(S-MAC, MAC chaining value || CLA' INS P1 P2 Lc' || data'); the whole 16-byte tag
 *   becomes the next chaining value, its first 8 bytes are appended. A replayed or reordered
 *   command therefore never verifies.
 * - C-DECRYPTION: AES-CBC under S-ENC with ICV = AES(S-ENC, encryption counter), data padded
 *   80 00.. to whole blocks. The counter goes up by one for every command of a session at a level
 *   with C-DECRYPTION, with or without data, so both ends stay in step.
 * - R-MAC: CMAC(S-RMAC, chaining value of the command || data' || SW1 SW2), first 8 bytes.
 * - R-ENCRYPTION: as C-DECRYPTION with ICV = AES(S-ENC, 80 || counter of the command).
 * Responses with an error status word carry no data and no R-MAC.
 */
import { CLA_SECURE_MESSAGING, MAX_SHORT_DATA, type CommandApdu, type ResponseApdu } from './apdu.ts';
import { AES_BLOCK_SIZE, aesCbcDecrypt, aesCbcEncrypt, aesEncryptBlock } from './aes.ts';
import { aesCmac } from './aes-cmac.ts';
import { Scp03Error } from './scp03-error.ts';
import { constantTimeEqual, type SessionKeys } from './scp03-session.ts';
import { checkSecurityLevel, hasCommandEncryption, hasCommandMac, hasResponseEncryption, hasResponseMac } from './security-level.ts';

export const MAC_LENGTH = 8;

/** Status words a protected response is computed for: 9000 and the warnings 62xx and 63xx. */
export function isProtectedStatus(sw: number): boolean {
  return sw === 0x9000 || sw >> 8 === 0x62 || sw >> 8 === 0x63;
}

/** ISO/IEC 7816-4 padding: 80, then 00 up to a whole number of blocks (always at least one byte). */
export function padIso7816(data: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(data.length / AES_BLOCK_SIZE) + 1) * AES_BLOCK_SIZE);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

export function unpadIso7816(data: Uint8Array): Uint8Array {
  let end = data.length - 1;
  while (end >= 0 && data[end] === 0x00) end -= 1;
  if (end < 0 || data[end] !== 0x80 || data.length - end > AES_BLOCK_SIZE) {
    throw new Scp03Error('PADDING', 'decrypted data has no ISO/IEC 7816-4 padding');
  }
  return data.slice(0, end);
}

function counterBlock(counter: number, firstByte: number): Uint8Array {
  const block = new Uint8Array(AES_BLOCK_SIZE);
  block[0] = firstByte;
  // 2^53 commands is far beyond any card; four bytes of it are all a session can reach.
  new DataView(block.buffer).setUint32(AES_BLOCK_SIZE - 4, counter >>> 0);
  return block;
}

function macInput(chaining: Uint8Array, header: readonly number[], data: Uint8Array): Uint8Array {
  const input = new Uint8Array(chaining.length + header.length + data.length);
  input.set(chaining);
  input.set(header, chaining.length);
  input.set(data, chaining.length + header.length);
  return input;
}

export class SecureMessaging {
  readonly #sEnc: Uint8Array;
  readonly #sMac: Uint8Array;
  readonly #sRmac: Uint8Array;
  #macChainingValue: Uint8Array = new Uint8Array(AES_BLOCK_SIZE);
  #encryptionCounter = 0;
  #level: number | undefined;

  constructor(keys: SessionKeys) {
    this.#sEnc = keys.sEnc;
    this.#sMac = keys.sMac;
    this.#sRmac = keys.sRmac;
  }

  /** The level set by EXTERNAL AUTHENTICATE; undefined until then. */
  get securityLevel(): number | undefined {
    return this.#level;
  }

  /** Called once EXTERNAL AUTHENTICATE is through: every later command uses this level. */
  startSession(level: number): void {
    if (this.#level !== undefined) throw new Scp03Error('SEQUENCE', 'secure messaging already started');
    this.#level = checkSecurityLevel(level);
  }

  #sessionLevel(): number {
    if (this.#level === undefined) throw new Scp03Error('SEQUENCE', 'secure messaging before EXTERNAL AUTHENTICATE');
    return this.#level;
  }

  #commandMac(command: CommandApdu, data: Uint8Array): Uint8Array {
    const header = [command.cla | CLA_SECURE_MESSAGING, command.ins, command.p1, command.p2, data.length + MAC_LENGTH];
    return aesCmac(this.#sMac, macInput(this.#macChainingValue, header, data));
  }

  /** EXTERNAL AUTHENTICATE carries a C-MAC whatever the level it asks for. */
  macExternalAuthenticate(command: CommandApdu): CommandApdu {
    return this.#appendMac(command, command.data);
  }

  #appendMac(command: CommandApdu, data: Uint8Array): CommandApdu {
    if (data.length + MAC_LENGTH > MAX_SHORT_DATA) {
      throw new Scp03Error('MALFORMED_APDU', `protected command data of ${data.length + MAC_LENGTH} bytes needs extended length`);
    }
    const mac = this.#commandMac(command, data);
    this.#macChainingValue = mac;
    const out = new Uint8Array(data.length + MAC_LENGTH);
    out.set(data);
    out.set(mac.subarray(0, MAC_LENGTH), data.length);
    return { ...command, cla: command.cla | CLA_SECURE_MESSAGING, data: out };
  }

  /** Host: the command as it goes on the wire at the session's level. */
  protectCommand(command: CommandApdu): CommandApdu {
    const level = this.#sessionLevel();
    if (!hasCommandMac(level)) return command;
    let data = command.data;
    if (hasCommandEncryption(level)) {
      this.#encryptionCounter += 1;
      if (data.length > 0) {
        const icv = aesEncryptBlock(this.#sEnc, counterBlock(this.#encryptionCounter, 0x00));
        data = aesCbcEncrypt(this.#sEnc, icv, padIso7816(data));
      }
    }
    return this.#appendMac(command, data);
  }

  /** Card: EXTERNAL AUTHENTICATE's C-MAC checked; returns the command with the MAC removed. */
  verifyExternalAuthenticate(command: CommandApdu): CommandApdu {
    return this.#checkMac(command);
  }

  #checkMac(command: CommandApdu): CommandApdu {
    if ((command.cla & CLA_SECURE_MESSAGING) === 0) throw new Scp03Error('MAC', 'command without secure messaging in a MAC session');
    if (command.data.length < MAC_LENGTH) throw new Scp03Error('MAC', `command data of ${command.data.length} bytes cannot hold a C-MAC`);
    const data = command.data.subarray(0, command.data.length - MAC_LENGTH);
    const expected = this.#commandMac(command, data);
    if (!constantTimeEqual(expected.subarray(0, MAC_LENGTH), command.data.subarray(data.length))) {
      throw new Scp03Error('MAC', 'C-MAC does not verify');
    }
    this.#macChainingValue = expected;
    return { ...command, data: data.slice() };
  }

  /** Card: checks the C-MAC, decrypts, and returns the command as the application should see it. */
  verifyCommand(command: CommandApdu): CommandApdu {
    const level = this.#sessionLevel();
    if (!hasCommandMac(level)) return command;
    const checked = this.#checkMac(command);
    let data = checked.data;
    if (hasCommandEncryption(level)) {
      this.#encryptionCounter += 1;
      if (data.length > 0) {
        if (data.length % AES_BLOCK_SIZE !== 0) throw new Scp03Error('PADDING', `encrypted data of ${data.length} bytes`);
        const icv = aesEncryptBlock(this.#sEnc, counterBlock(this.#encryptionCounter, 0x00));
        data = unpadIso7816(aesCbcDecrypt(this.#sEnc, icv, data));
      }
    }
    return { ...checked, cla: checked.cla & ~CLA_SECURE_MESSAGING, data };
  }

  #responseMac(data: Uint8Array, sw: number): Uint8Array {
    const input = new Uint8Array(this.#macChainingValue.length + data.length + 2);
    input.set(this.#macChainingValue);
    input.set(data, this.#macChainingValue.length);
    input.set([sw >> 8, sw & 0xff], input.length - 2);
    return aesCmac(this.#sRmac, input).subarray(0, MAC_LENGTH);
  }

  /** Card: the response as it goes on the wire at the session's level. */
  protectResponse(response: ResponseApdu): ResponseApdu {
    const level = this.#sessionLevel();
    if (!hasResponseMac(level)) return response;
    if (!isProtectedStatus(response.sw)) return { data: new Uint8Array(0), sw: response.sw };
    let data = response.data;
    if (hasResponseEncryption(level) && data.length > 0) {
      const icv = aesEncryptBlock(this.#sEnc, counterBlock(this.#encryptionCounter, 0x80));
      data = aesCbcEncrypt(this.#sEnc, icv, padIso7816(data));
    }
    const out = new Uint8Array(data.length + MAC_LENGTH);
    out.set(data);
    out.set(this.#responseMac(data, response.sw), data.length);
    return { data: out, sw: response.sw };
  }

  /** Host: checks the R-MAC, decrypts, and returns the response as the card's application gave it. */
  verifyResponse(response: ResponseApdu): ResponseApdu {
    const level = this.#sessionLevel();
    if (!hasResponseMac(level)) return response;
    if (!isProtectedStatus(response.sw)) {
      if (response.data.length > 0) throw new Scp03Error('MALFORMED_APDU', 'error status word with response data');
      return response;
    }
    if (response.data.length < MAC_LENGTH) throw new Scp03Error('MAC', `response of ${response.data.length} bytes cannot hold an R-MAC`);
    let data = response.data.subarray(0, response.data.length - MAC_LENGTH);
    if (!constantTimeEqual(this.#responseMac(data, response.sw), response.data.subarray(data.length))) {
      throw new Scp03Error('MAC', 'R-MAC does not verify');
    }
    if (hasResponseEncryption(level) && data.length > 0) {
      if (data.length % AES_BLOCK_SIZE !== 0) throw new Scp03Error('PADDING', `encrypted response of ${data.length} bytes`);
      const icv = aesEncryptBlock(this.#sEnc, counterBlock(this.#encryptionCounter, 0x80));
      data = unpadIso7816(aesCbcDecrypt(this.#sEnc, icv, data));
    }
    return { data: data.slice(), sw: response.sw };
  }
}
