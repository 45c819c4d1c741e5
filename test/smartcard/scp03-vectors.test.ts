/*
 * SCP03 against a published trace: the SCP03 test cases of osmocom pySim,
 * tests/unittests/test_globalplatform.py (https://gitea.osmocom.org/sim-card/pysim, mirrored at
 * https://github.com/osmocom/pysim), classes SCP03_Test_AES{128,192,256}_{11,03,33}. They give,
 * for static key sets of each AES length and security levels 11 (C-MAC + R-MAC), 03 (C-MAC +
 * C-DECRYPTION) and 33 (all four), the INITIALIZE UPDATE command, the card's response, the
 * EXTERNAL AUTHENTICATE command, a GET DATA (EID) command wrapped for the session and the card's
 * protected response. Only these facts are used here; the code under test is ours.
 *
 * Two differences in how the trace is written: its INITIALIZE UPDATE has no Le byte (ours sends
 * Le = 00, case 4 as the GP Card Specification shows it), and its responses come without the
 * status word, which is 9000 throughout.
 *
 * The card in that trace uses pseudo-random challenges (i = 70); its card challenges are those
 * KEY_ENC derives from the trace's sequence counter and the AID A0000005591010FFFFFFFF8900000100
 * (the GSMA SGP.02 ISD-R AID; pySim's cards are eUICCs). We found that by computation, not in the
 * source; it lets the simulated card reproduce the card's side of the trace byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, toHex } from '../fixtures/codec-assertions.ts';
import { decodeCommandApdu, encodeCommandApdu, type ResponseApdu } from '../../shared/smartcard/apdu.ts';
import { Scp03HostChannel } from '../../shared/smartcard/host-channel.ts';
import { keyCheckValue, type Scp03KeySet } from '../../shared/smartcard/scp03-keys.ts';
import { Scp03Card } from '../../simulator/smartcard/scp03-card.ts';

const keySet = (keyVersion: number, enc: string, mac: string, dek: string): Scp03KeySet => ({
  keyVersion,
  enc: hex(enc),
  mac: hex(mac),
  dek: hex(dek),
});

const AES128 = keySet(0x30, '000102030405060708090a0b0c0d0e0f', '101112131415161718191a1b1c1d1e1f', '202122232425262728292a2b2c2d2e2f');
const AES192 = keySet(
  0x31,
  '000102030405060708090a0b0c0d0e0f0001020304050607',
  '101112131415161718191a1b1c1d1e1f1011121314151617',
  '202122232425262728292a2b2c2d2e2f2021222324252627',
);
const AES256 = keySet(
  0x32,
  '000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f',
  '101112131415161718191a1b1c1d1e1f101112131415161718191a1b1c1d1e1f',
  '202122232425262728292a2b2c2d2e2f202122232425262728292a2b2c2d2e2f',
);

const GET_EID = '80e2910006bf3e035c015a';
const EID_RESPONSE = 'bf3e125a1089882119900000000000000000000005';
const EUICC_ISD_R_AID = hex('a0000005591010ffffffff8900000100');

interface Trace {
  readonly name: string;
  readonly keys: Scp03KeySet;
  readonly initializeUpdate: string;
  readonly initializeUpdateResponse: string;
  readonly externalAuthenticate: string;
  readonly getEid: string;
  readonly getEidResponse: string;
}

const TRACES: readonly Trace[] = [
  {
    name: 'AES-128, level 11',
    keys: AES128,
    initializeUpdate: '8050300008b13e5f938fc108c4',
    initializeUpdateResponse: '000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002',
    externalAuthenticate: '84821100107d5f5826a993ebc89eea24957fa0b3ce',
    getEid: '84e291000ebf3e035c015a558d036518a28297',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005971be68992dbbdfa',
  },
  {
    name: 'AES-128, level 03',
    keys: AES128,
    initializeUpdate: '80503000088e1552d0513c60f3',
    initializeUpdateResponse: '0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001',
    externalAuthenticate: '8482030010fd4721a14d9b07003c451d2f8ae6bb21',
    getEid: '84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
  },
  {
    name: 'AES-128, level 33',
    keys: AES128,
    initializeUpdate: '8050300008fdf38259a1e0de44',
    initializeUpdateResponse: '000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003',
    externalAuthenticate: '84823300108c36f96bcc00724a4e13ad591d7da3f0',
    getEid: '84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f',
    getEidResponse: 'f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb2e68f8a0144975b9',
  },
  {
    name: 'AES-192, level 11',
    keys: AES192,
    initializeUpdate: '80503100087396430b768b085b',
    initializeUpdateResponse: '000000000000000000003103708cfc23522ffdbf1e5df5542cac8fd866000003',
    externalAuthenticate: '84821100102145ed30b146f5db252fb7e624cec244',
    getEid: '84e291000ebf3e035c015aff42cf801d143944',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005162fbd33e04940a9',
  },
  {
    name: 'AES-192, level 03',
    keys: AES192,
    initializeUpdate: '805031000869c65da8202bf19f',
    initializeUpdateResponse: '00000000000000000000310370b570a67be38446717729d6dd3d2ec5b1000001',
    externalAuthenticate: '848203001065df4f1a356a887905466516d9e5b7c1',
    getEid: '84e2910018d2c6fb477c5d4afe4fd4d21f17eff10d3578ec1774a12a2d',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
  },
  {
    name: 'AES-192, level 33',
    keys: AES192,
    initializeUpdate: '80503100089b3f2eef0e8c9374',
    initializeUpdateResponse: '00000000000000000000310370f6bb305a15bae1a68f79fb08212fbed7000002',
    externalAuthenticate: '84823300109100bc22d58b45b86a26365ce39ff3cf',
    getEid: '84e29100188f7f946c84f70d17994bc6e8791251bb1bb1bf02cf8de589',
    getEidResponse: 'c05176c1b6f72aae50c32cbee63b0e95998928fd4dfb2be9f27ffde8c8476f5909b4805cc4039599',
  },
  {
    name: 'AES-256, level 11',
    keys: AES256,
    initializeUpdate: '805032000811666d57866c6f54',
    initializeUpdateResponse: '0000000000000000000032037053ea8847efa7674e41498a4d66cf0dee000003',
    externalAuthenticate: '84821100102f2ad190eff2fafc4908996d1cebd310',
    getEid: '84e291000ebf3e035c015af4b680372542b59d',
    getEidResponse: 'bf3e125a10898821199000000000000000000000058012dd7f01f1c4c1',
  },
  {
    name: 'AES-256, level 03',
    keys: AES256,
    initializeUpdate: '8050320008c6066990fc426e1d',
    initializeUpdateResponse: '000000000000000000003203708682cd81bbd8919f2de3f2664581f118000001',
    externalAuthenticate: '848203001077c493b632edadaf865a1e64acc07ce9',
    getEid: '84e29100183ddaa60594963befaada3525b492ede23c2ab2c1ce3afe44',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
  },
  {
    name: 'AES-256, level 33',
    keys: AES256,
    initializeUpdate: '805032000897b2055fe58599fd',
    initializeUpdateResponse: '00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002',
    externalAuthenticate: '8482330010508a0fd959d2e547c6b33154a6be2057',
    getEid: '84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea',
    getEidResponse: 'ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2ace7f8bc5d1c1cd99',
  },
];

const ok = (data: string): ResponseApdu => ({ data: hex(data), sw: 0x9000 });

describe('SCP03 against the published pySim trace', () => {
  for (const trace of TRACES) {
    describe(trace.name, () => {
      const hostChallenge = hex(trace.initializeUpdate).subarray(5);
      const level = hex(trace.externalAuthenticate)[2]!;

      it('host: INITIALIZE UPDATE, card cryptogram, EXTERNAL AUTHENTICATE, C-MAC/C-DEC and R-MAC/R-ENC as in the trace', () => {
        const host = new Scp03HostChannel({ keys: trace.keys, securityLevel: level, hostChallenge });
        assert.equal(toHex(encodeCommandApdu(host.initializeUpdate())), `${trace.initializeUpdate}00`);
        assert.equal(toHex(encodeCommandApdu(host.externalAuthenticate(ok(trace.initializeUpdateResponse)))), trace.externalAuthenticate);
        host.confirm(ok(''));
        assert.equal(toHex(encodeCommandApdu(host.wrap(decodeCommandApdu(hex(GET_EID))))), trace.getEid);
        assert.equal(toHex(host.unwrap(ok(trace.getEidResponse)).data), EID_RESPONSE);
      });

      it('card: answers INITIALIZE UPDATE, accepts EXTERNAL AUTHENTICATE and protects the response as in the trace', () => {
        const sequenceCounter = parseInt(trace.initializeUpdateResponse.slice(-6), 16);
        const seen: string[] = [];
        const card = new Scp03Card({
          keys: trace.keys,
          sequenceCounter,
          securityDomainAid: EUICC_ISD_R_AID,
          application: (command) => {
            seen.push(toHex(encodeCommandApdu(command)));
            return ok(EID_RESPONSE);
          },
        });
        assert.equal(toHex(card.transmit(hex(trace.initializeUpdate))), `${trace.initializeUpdateResponse}9000`);
        assert.equal(toHex(card.transmit(hex(trace.externalAuthenticate))), '9000');
        assert.equal(card.securityLevel, level);
        assert.equal(toHex(card.transmit(hex(trace.getEid))), `${trace.getEidResponse}9000`);
        assert.deepEqual(seen, [GET_EID]);
        assert.equal(card.sequenceCounter, sequenceCounter + 1);
      });
    });
  }

  // Same source, class SCP03_KCV_Test: key check values of the AES-128 key set.
  it('key check values of the AES-128 key set (pySim SCP03_KCV_Test)', () => {
    assert.equal(toHex(keyCheckValue(AES128.enc)), 'c35280');
    assert.equal(toHex(keyCheckValue(AES128.mac)), '013808');
    assert.equal(toHex(keyCheckValue(AES128.dek)), '840de5');
  });

  it('a card with another AID derives another challenge, and the trace no longer verifies', () => {
    const trace = TRACES[0]!;
    const card = new Scp03Card({ keys: trace.keys, sequenceCounter: 2, application: () => ok('') });
    const response = card.transmit(hex(trace.initializeUpdate));
    assert.notEqual(toHex(response), `${trace.initializeUpdateResponse}9000`);
    assert.equal(toHex(card.transmit(hex(trace.externalAuthenticate))), '6982');
  });
});
