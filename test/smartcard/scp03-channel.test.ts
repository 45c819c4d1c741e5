/*
 * Host against simulated card, through the card's byte interface. Besides the published pySim
 * trace (scp03-vectors.test.ts), these check what a trace cannot: every security level and key
 * length end to end, both challenge modes, and that the card and the host fail closed on a wrong
 * key, a tampered, replayed or unprotected command, and a tampered response.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import {
  decodeCommandApdu,
  decodeResponseApdu,
  encodeCommandApdu,
  encodeResponseApdu,
  type CommandApdu,
  type ResponseApdu,
} from '../../shared/smartcard/apdu.ts';
import { Scp03HostChannel } from '../../shared/smartcard/host-channel.ts';
import {
  decodeInitializeUpdateResponse,
  externalAuthenticateCommand,
  initializeUpdateCommand,
} from '../../shared/smartcard/initialize-update.ts';
import { deriveSessionKeys, sessionContext } from '../../shared/smartcard/scp03-session.ts';
import { SecureMessaging } from '../../shared/smartcard/secure-messaging.ts';
import { isScp03Error, type Scp03ErrorCode } from '../../shared/smartcard/scp03-error.ts';
import { generateScp03KeySet, type Scp03KeyLength, type Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { SECURITY_LEVEL, VALID_SECURITY_LEVELS } from '../../shared/smartcard/security-level.ts';
import { Scp03Card, type CardCommandContext } from '../../simulator/smartcard/scp03-card.ts';

const INS_UPDATE_BINARY = 0xd6;
const INS_READ_BINARY = 0xb0;

/** A transparent file behind the Security Domain: UPDATE BINARY writes, READ BINARY reads. */
function fileApplication() {
  let file = new Uint8Array(0);
  const seen: { command: CommandApdu; context: CardCommandContext }[] = [];
  const application = (command: CommandApdu, context: CardCommandContext): ResponseApdu => {
    seen.push({ command, context });
    if (command.ins === INS_UPDATE_BINARY) {
      file = command.data.slice();
      return { data: new Uint8Array(0), sw: 0x9000 };
    }
    if (command.ins === INS_READ_BINARY) return { data: file, sw: 0x9000 };
    return { data: new Uint8Array(0), sw: 0x6a82 }; // file or application not found
  };
  return { application, seen, file: () => file };
}

/** Sends a command through the card's byte interface, as a reader would. */
function send(card: Scp03Card, command: CommandApdu): ResponseApdu {
  return decodeResponseApdu(card.transmit(encodeCommandApdu(command)));
}

function open(card: Scp03Card, keys: Scp03KeySet, securityLevel: number): Scp03HostChannel {
  const host = new Scp03HostChannel({ keys, securityLevel });
  const externalAuthenticate = host.externalAuthenticate(send(card, host.initializeUpdate()));
  host.confirm(send(card, externalAuthenticate));
  return host;
}

function exchange(card: Scp03Card, host: Scp03HostChannel, command: CommandApdu): ResponseApdu {
  return host.unwrap(send(card, host.wrap(command)));
}

const update = (data: Uint8Array): CommandApdu => ({ cla: 0x00, ins: INS_UPDATE_BINARY, p1: 0, p2: 0, data });
const read = (): CommandApdu => ({ cla: 0x00, ins: INS_READ_BINARY, p1: 0, p2: 0, data: new Uint8Array(0), le: 256 });

const scp03Error =
  (code: Scp03ErrorCode) =>
  (error: unknown): boolean =>
    isScp03Error(error) && error.code === code;

const BOOTSTRAP_FILE = Uint8Array.from({ length: 200 }, (_, index) => (index * 7) & 0xff);

describe('SCP03 host and simulated card', () => {
  for (const keyLength of [16, 24, 32] as Scp03KeyLength[]) {
    for (const level of VALID_SECURITY_LEVELS) {
      it(`round trip with ${keyLength * 8}-bit keys at level ${level.toString(16).padStart(2, '0')}`, () => {
        const keys = generateScp03KeySet(keyLength);
        const app = fileApplication();
        const card = new Scp03Card({ keys, application: app.application });
        const host = open(card, keys, level);
        assert.equal(card.securityLevel, level);

        const write = update(BOOTSTRAP_FILE);
        const wire = host.wrap(write);
        // What the reader sees: the secure messaging bit, a MAC when asked for, no plaintext when encrypted.
        if (level !== 0) assert.equal(wire.cla & 0x04, 0x04);
        if ((level & SECURITY_LEVEL.C_DECRYPTION) !== 0) assert.ok(!toHex(wire.data).includes(toHex(BOOTSTRAP_FILE.subarray(0, 16))));
        assert.equal(host.unwrap(send(card, wire)).sw, 0x9000);
        assert.deepEqual(app.file(), BOOTSTRAP_FILE);

        const raw = send(card, host.wrap(read()));
        if ((level & SECURITY_LEVEL.R_ENCRYPTION) !== 0) assert.ok(!toHex(raw.data).includes(toHex(BOOTSTRAP_FILE.subarray(0, 16))));
        if ((level & SECURITY_LEVEL.R_MAC) !== 0) assert.ok(raw.data.length >= BOOTSTRAP_FILE.length + 8);
        assert.deepEqual(host.unwrap(raw), { data: BOOTSTRAP_FILE, sw: 0x9000 });

        // Commands without data still move the encryption counter on both ends.
        for (let round = 0; round < 3; round += 1) assert.equal(exchange(card, host, { cla: 0x00, ins: 0x70, p1: 0, p2: 0, data: new Uint8Array(0) }).sw, 0x6a82);
        assert.deepEqual(exchange(card, host, read()).data, BOOTSTRAP_FILE);
        assert.deepEqual(
          app.seen.map(({ command, context }) => [command.cla, command.ins, context.securityLevel]),
          [[0, 0xd6, level], [0, 0xb0, level], [0, 0x70, level], [0, 0x70, level], [0, 0x70, level], [0, 0xb0, level]],
        );
      });
    }
  }

  it('works with random card challenges (no sequence counter in INITIALIZE UPDATE)', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application, pseudoRandomChallenge: false });
    const host = open(card, keys, 0x33);
    assert.equal(host.cardInfo?.sequenceCounter, undefined);
    assert.equal((host.cardInfo?.iParameter ?? 0) & 0x10, 0);
    assert.equal(exchange(card, host, update(hex('0102'))).sw, 0x9000);
  });

  it('gives each session a new pseudo-random challenge and new session keys', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application, sequenceCounter: 41 });
    const first = open(card, keys, 0x13);
    const second = open(card, keys, 0x13);
    assert.equal(first.cardInfo?.sequenceCounter, 41);
    assert.equal(second.cardInfo?.sequenceCounter, 42);
    assert.notEqual(toHex(first.cardInfo!.cardChallenge), toHex(second.cardInfo!.cardChallenge));
    // The card is now in the second session: the first host's MAC chain is stale.
    assert.throws(() => exchange(card, first, read()), scp03Error('STATUS'));
    assert.equal(card.securityLevel, undefined);
  });
});

describe('SCP03 failures', () => {
  it('wrong static keys: the host rejects the card cryptogram and sends nothing more', () => {
    const cardKeys = generateScp03KeySet();
    const card = new Scp03Card({ keys: cardKeys, application: fileApplication().application });
    const host = new Scp03HostChannel({ keys: { ...generateScp03KeySet(), keyVersion: cardKeys.keyVersion }, securityLevel: 0x33 });
    const response = send(card, host.initializeUpdate());
    assert.throws(() => host.externalAuthenticate(response), (error: unknown) => {
      assert.ok(isScp03Error(error) && error.code === 'CARD_CRYPTOGRAM');
      for (const key of [cardKeys.enc, cardKeys.mac, cardKeys.dek]) assert.ok(!error.message.includes(toHex(key)));
      return true;
    });
    assert.equal(host.isOpen, false);
    assert.throws(() => host.wrap(read()), scp03Error('SEQUENCE'));
  });

  // The cryptograms come from S-MAC, so from KEY_MAC only: a wrong KEY_ENC shows at the first encrypted command.
  it('a wrong KEY_ENC alone: the card rejects the first encrypted command', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    const host = open(card, { ...keys, enc: generateScp03KeySet().enc }, 0x03);
    assert.throws(() => exchange(card, host, update(hex('0102'))), scp03Error('STATUS'));
    assert.deepEqual(app.seen, []);
  });

  it('host cryptogram that does not verify (the card cryptogram reflected back, correctly MACed): 6300, no session', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const hostChallenge = hex('0001020304050607');
    const answer = decodeInitializeUpdateResponse(send(card, initializeUpdateCommand(keys.keyVersion, hostChallenge)).data);
    const messaging = new SecureMessaging(deriveSessionKeys(keys, sessionContext(hostChallenge, answer.cardChallenge)));
    const reflected = messaging.macExternalAuthenticate(externalAuthenticateCommand(0x01, answer.cardCryptogram));
    assert.equal(send(card, reflected).sw, 0x6300);
    assert.equal(card.securityLevel, undefined);
    assert.equal(send(card, reflected).sw, 0x6985);
  });

  it('flipped C-MAC byte: the card answers 6982, closes, and rejects the next correct command too', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    const host = open(card, keys, 0x01);
    const wire = host.wrap(update(hex('cafe')));
    const tampered = wire.data.slice();
    tampered[tampered.length - 1]! ^= 0x01;
    assert.equal(send(card, { ...wire, data: tampered }).sw, 0x6982);
    assert.equal(card.securityLevel, undefined);
    assert.equal(send(card, wire).sw, 0x6982);
    assert.deepEqual(app.seen, []);
  });

  it('tampered encrypted data: the MAC covers the ciphertext, so 6982', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    const host = open(card, keys, 0x03);
    const wire = host.wrap(update(hex('00112233')));
    const tampered = wire.data.slice();
    tampered[0]! ^= 0x80;
    assert.equal(send(card, { ...wire, data: tampered }).sw, 0x6982);
    assert.deepEqual(app.seen, []);
  });

  it('replayed command (same MAC chaining value): rejected with 6982', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    const host = open(card, keys, 0x13);
    const wire = encodeCommandApdu(host.wrap(update(hex('0a0b'))));
    assert.equal(host.unwrap(decodeResponseApdu(card.transmit(wire))).sw, 0x9000);
    assert.equal(toHex(card.transmit(wire)), '6982');
    assert.equal(app.seen.length, 1);
    assert.equal(card.securityLevel, undefined);
  });

  it('unprotected command inside a session: 6982 and the session ends', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    open(card, keys, 0x01);
    assert.equal(send(card, update(hex('01'))).sw, 0x6982);
    assert.equal(card.securityLevel, undefined);
    assert.deepEqual(app.seen, []);
  });

  it('tampered R-MAC: the host rejects the response and closes', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const host = open(card, keys, 0x11);
    const response = send(card, host.wrap(read()));
    const tampered = response.data.slice();
    tampered[tampered.length - 1]! ^= 0x01;
    assert.throws(() => host.unwrap({ data: tampered, sw: response.sw }), scp03Error('MAC'));
    assert.equal(host.isOpen, false);
    assert.throws(() => host.wrap(read()), scp03Error('SEQUENCE'));
  });

  it('tampered response data or status word under R-MAC: rejected', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    const writer = open(card, keys, 0x33);
    exchange(card, writer, update(hex('a1a2a3a4')));
    for (const mutate of [
      (response: ResponseApdu): ResponseApdu => ({ data: response.data.map((byte, index) => (index === 0 ? byte ^ 1 : byte)), sw: response.sw }),
      (response: ResponseApdu): ResponseApdu => ({ data: response.data, sw: 0x6310 }),
    ]) {
      const host = open(card, keys, 0x33);
      assert.throws(() => host.unwrap(mutate(send(card, host.wrap(read())))), scp03Error('MAC'));
    }
  });

  it('error status words come back without R-MAC and pass through to the caller', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const host = open(card, keys, 0x33);
    const raw = send(card, host.wrap({ cla: 0x00, ins: 0xa4, p1: 0, p2: 0, data: hex('3f00') }));
    assert.deepEqual(raw, { data: new Uint8Array(0), sw: 0x6a82 });
    assert.deepEqual(host.unwrap(raw), raw);
    assert.equal(host.isOpen, true);
    assert.deepEqual(exchange(card, host, read()).sw, 0x9000);
  });

  it('EXTERNAL AUTHENTICATE without INITIALIZE UPDATE: 6985', () => {
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application });
    assert.equal(toHex(card.transmit(hex('848201001000000000000000000000000000000000'))), '6985');
  });

  it('unknown key version: the card answers 6A88 and the host reports the status', () => {
    const keys = generateScp03KeySet(16, 0x30);
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const host = new Scp03HostChannel({ keys: { ...keys, keyVersion: 0x31 }, securityLevel: 0x01 });
    assert.throws(() => host.externalAuthenticate(send(card, host.initializeUpdate())), (error: unknown) =>
      isScp03Error(error) && error.code === 'STATUS' && error.statusWord === 0x6a88,
    );
  });

  it('a security level SCP03 does not define is refused on both ends', () => {
    const keys = generateScp03KeySet();
    assert.throws(() => new Scp03HostChannel({ keys, securityLevel: 0x10 }), scp03Error('SECURITY_LEVEL'));
    assert.throws(() => new Scp03HostChannel({ keys, securityLevel: 0x02 }), scp03Error('SECURITY_LEVEL'));
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const host = new Scp03HostChannel({ keys, securityLevel: 0x01 });
    const externalAuthenticate = host.externalAuthenticate(send(card, host.initializeUpdate()));
    assert.equal(send(card, { ...externalAuthenticate, p1: 0x21 }).sw, 0x6a86);
  });

  it('commands with secure messaging outside a session, and malformed APDUs, are refused', () => {
    const keys = generateScp03KeySet();
    const app = fileApplication();
    const card = new Scp03Card({ keys, application: app.application });
    assert.equal(toHex(card.transmit(hex('84d6000002cafe'))), '6982');
    assert.equal(toHex(card.transmit(hex('00d6'))), '6700');
    assert.equal(toHex(card.transmit(hex('00d6000005cafe'))), '6700');
    // Without a session, plain commands reach the application with no security level.
    assert.equal(toHex(card.transmit(hex('00d6000002cafe'))), '9000');
    assert.deepEqual(app.seen.map(({ context }) => context.securityLevel), [undefined]);
  });

  it('host steps out of order are SEQUENCE errors', () => {
    const keys = generateScp03KeySet();
    const host = new Scp03HostChannel({ keys, securityLevel: 0x01 });
    assert.throws(() => host.wrap(read()), scp03Error('SEQUENCE'));
    assert.throws(() => host.confirm({ data: new Uint8Array(0), sw: 0x9000 }), scp03Error('SEQUENCE'));
    host.initializeUpdate();
    assert.throws(() => host.initializeUpdate(), scp03Error('SEQUENCE'));
  });

  it('a malformed INITIALIZE UPDATE response is MALFORMED_APDU, another SCP is UNSUPPORTED', () => {
    const keys = generateScp03KeySet();
    const short = new Scp03HostChannel({ keys, securityLevel: 0x01 });
    short.initializeUpdate();
    assert.throws(() => short.externalAuthenticate({ data: hex('00000000000000000000300370'), sw: 0x9000 }), scp03Error('MALFORMED_APDU'));
    const scp02 = new Scp03HostChannel({ keys, securityLevel: 0x01 });
    scp02.initializeUpdate();
    assert.throws(
      () => scp02.externalAuthenticate({ data: hex('00000000000000000000', '300270', '00'.repeat(16)), sw: 0x9000 }),
      scp03Error('UNSUPPORTED'),
    );
  });

  it('the host and the card hold no key material in what util.inspect or JSON shows', async () => {
    const { inspect } = await import('node:util');
    const keys = generateScp03KeySet();
    const card = new Scp03Card({ keys, application: fileApplication().application });
    const host = open(card, keys, 0x33);
    for (const shown of [inspect(host, { depth: 10 }), inspect(card, { depth: 10 }), JSON.stringify(host), JSON.stringify(card)]) {
      for (const key of [keys.enc, keys.mac, keys.dek]) {
        assert.ok(!shown.includes(toHex(key)));
        assert.ok(!shown.includes(String(key[0]) + ', ' + String(key[1]) + ', ' + String(key[2]) + ', ' + String(key[3])));
      }
    }
  });

  it('raw byte interface: a plain command decoded and re-encoded is unchanged', () => {
    const command = decodeCommandApdu(hex('80e2910006bf3e035c015a'));
    assert.equal(toHex(encodeCommandApdu(command)), '80e2910006bf3e035c015a');
    assert.equal(toHex(encodeResponseApdu({ data: hex('01'), sw: 0x6310 })), '016310');
  });
});
