import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeOid, derNamedBits, derObjectIdentifier, decodeNamedBits, readDerElement, scopeOf } from '../../shared/smartcard/der.ts';
import {
  decodeApplicationTemplate,
  decodeDodf,
  decodeOdf,
  encodeApplicationTemplate,
  encodeDataObject,
  encodeDodf,
  encodeOdf,
  lwm2mBootstrapDataObjects,
  lwm2mBootstrapPath,
  LWM2M_BOOTSTRAP_OID,
  PKCS15_AID,
  type DataObjectEntry,
} from '../../shared/smartcard/pkcs15.ts';
import { ascii, assertCodecError, assertOnlyCodecErrors, hex, mutatedBytes, toHex } from '../fixtures/codec-assertions.ts';

const EF_6430 = Uint8Array.of(0x64, 0x30);
const EF_6432 = Uint8Array.of(0x64, 0x32);
const LABEL = `0c 0f ${ascii('LwM2M Bootstrap')}`; // UTF8String, 15 bytes
const OID = '06 04 67 2b 09 01'; // 2.23.43.9.1: 2*40+23 = 0x67, 43 = 0x2b, 9, 1

/** The two DODF entries lwm2mBootstrapDataObjects makes for 6432, worked out by hand. */
const OPAQUE_DO = hex(
  '30 37', // PKCS15Data.opaqueDO: PKCS15Object SEQUENCE, 55 bytes
  `30 14 ${LABEL} 03 01 00`, //  CommonObjectAttributes { label, flags: neither private nor modifiable }
  `30 17 ${LABEL} ${OID}`, //    CommonDataObjectAttributes { applicationName, applicationOID }
  'a1 06 30 04 04 02 6432', //   typeAttributes [1] explicit: ObjectValue.indirect Path { path 6432 }
);
const OID_DO = hex(
  'a1 3f', // PKCS15Data.oidDO [1] (implicit on the SEQUENCE), 63 bytes
  `30 14 ${LABEL} 03 01 00`,
  `30 17 ${LABEL} ${OID}`,
  `a1 0e 30 0c ${OID} 30 04 04 02 6432`, // typeAttributes [1] explicit: OidDO { id, value Path }
);

describe('PKCS#15 structures for LwM2M Appendix G', () => {
  it('encodes EF(ODF) pointing at the DODF-bootstrap (G.3.1): dataObjects [7] { Path }', () => {
    assert.equal(toHex(encodeOdf([{ kind: 'dataObjects', path: EF_6430 }])), 'a706300404026430');
  });

  it('encodes the DODF entries for EF LwM2M_Bootstrap (G.3.2) to the bytes worked out by hand', () => {
    const [opaque, oid] = lwm2mBootstrapDataObjects(EF_6432);
    assert.equal(toHex(encodeDataObject(opaque!)), toHex(OPAQUE_DO));
    assert.equal(toHex(encodeDataObject(oid!)), toHex(OID_DO));
    assert.equal(toHex(encodeDodf([opaque!, oid!])), toHex(OPAQUE_DO) + toHex(OID_DO));
  });

  it('decodes its own DODF, and finds the bootstrap file through either entry', () => {
    const entries = decodeDodf(encodeDodf(lwm2mBootstrapDataObjects(EF_6432, { private: true })));
    const expected = (type: 'opaque' | 'oid', offset: number): DataObjectEntry => ({
      type,
      label: 'LwM2M Bootstrap',
      flags: { private: true, modifiable: false },
      applicationName: 'LwM2M Bootstrap',
      applicationOid: LWM2M_BOOTSTRAP_OID,
      oid: type === 'oid' ? LWM2M_BOOTSTRAP_OID : undefined,
      path: EF_6432,
      wrappedOid: false,
      offset,
    });
    // The private flag takes one byte more than no flags (03 02 07 80), so the second entry starts one later.
    assert.deepEqual(entries, [expected('opaque', 0), expected('oid', OPAQUE_DO.length + 1)]);
    assert.deepEqual(lwm2mBootstrapPath(entries.slice(0, 1)), EF_6432);
    assert.deepEqual(lwm2mBootstrapPath(entries.slice(1)), EF_6432);
  });

  it("reads the nRF UICC reader's test card: oidDO with the TS example's doubly wrapped OID", () => {
    const dodf = hex('a1 27 3000', `30 11 ${LABEL}`, 'a1 10 30 0e 06 06 0604672b0901 30 04 04 02 6432');
    const [entry] = decodeDodf(dodf) as DataObjectEntry[];
    assert.deepEqual([entry!.type, entry!.oid, entry!.wrappedOid, entry!.applicationName, entry!.label], ['oid', LWM2M_BOOTSTRAP_OID, true, 'LwM2M Bootstrap', undefined]);
    assert.deepEqual(lwm2mBootstrapPath([entry!]), EF_6432);
    assert.deepEqual(decodeOdf(hex('a706300404026430')), [{ kind: 'dataObjects', tagNumber: 7, path: EF_6430 }]);
  });

  it('reads an ODF with other directories and 0xFF filler, and a DODF that is all filler', () => {
    const odf = decodeOdf(hex('a7 06 30 04 04 02 4407', 'a5 06 30 04 04 02 4404', 'ff ff ff'));
    assert.deepEqual(odf.map(({ kind, path }) => [kind, toHex(path!)]), [['dataObjects', '4407'], ['trustedCertificates', '4404']]);
    assert.deepEqual(decodeDodf(new Uint8Array(19).fill(0xff)), []);
    assert.equal(lwm2mBootstrapPath([]), undefined);
    // A data object typed with another OID does not lead to the bootstrap file.
    const other = decodeDodf(encodeDataObject({ type: 'opaque', applicationOid: '2.23.43.9.2', path: EF_6432 }));
    assert.equal(lwm2mBootstrapPath(other), undefined);
    // externalIDO [0] and later alternatives are listed, not read.
    assert.deepEqual(decodeDodf(hex('a0 02 3000')), [{ type: 'other', tag: 0xa0, offset: 0 }]);
  });

  it('encodes and decodes the PKCS#15 application template of EF(DIR) (G.1: tags 4F and 51)', () => {
    const record = encodeApplicationTemplate({ aid: PKCS15_AID, label: 'PKCS#15', path: hex('3f00 5015') });
    assert.equal(toHex(record), toHex(hex('61 1d', '4f 0c a000000063 504b43532d3135', `50 07 ${ascii('PKCS#15')}`, '51 04 3f00 5015')));
    const padded = Uint8Array.from([...record, 0xff, 0xff, 0xff]);
    assert.deepEqual(decodeApplicationTemplate(padded), { aid: PKCS15_AID, label: 'PKCS#15', path: hex('3f00 5015') });
    assertCodecError(() => decodeApplicationTemplate(hex('61 06 4f 04 a0000000')), 'MALFORMED', { field: 'application identifier (4F)' });
    assertCodecError(() => decodeApplicationTemplate(hex('61 0a 4f 05 a000000063 51 01 3f')), 'MALFORMED', { field: 'path (51)' });
  });

  it('codes OIDs and named-bit flags as DER wants them', () => {
    assert.equal(toHex(derObjectIdentifier('1.2.840.113549')), '06062a864886f70d');
    assert.equal(decodeOid(hex('2a864886f70d'), 0, 'oid'), '1.2.840.113549');
    assert.equal(decodeOid(hex('8837'), 0, 'oid'), '2.999');
    assert.equal(toHex(derNamedBits([])), '030100');
    assert.equal(toHex(derNamedBits([0])), '03020780');
    assert.equal(toHex(derNamedBits([0, 1])), '030206c0');
    const bits = (bytes: Uint8Array) => decodeNamedBits(readDerElement(scopeOf(bytes), 0), 'flags');
    assert.deepEqual(bits(hex('03020640')), [1]);
    assertCodecError(() => bits(hex('03020700')), 'MALFORMED', { field: 'flags' }); // trailing zero bits
    assertCodecError(() => decodeOid(hex('2a81'), 0, 'oid'), 'TRUNCATED');
    assertCodecError(() => decodeOid(hex('2a8001'), 0, 'oid'), 'MALFORMED', { offset: 1 });
  });
});

describe('PKCS#15 structures: bad input', () => {
  const dodf = encodeDodf(lwm2mBootstrapDataObjects(EF_6432));
  const odf = encodeOdf([{ kind: 'dataObjects', path: EF_6430 }]);

  it('insists on DER lengths', () => {
    assertCodecError(() => decodeOdf(hex('a7 81 06 30 04 04 02 6430')), 'MALFORMED', { offset: 1 });
    assertCodecError(() => decodeOdf(hex('a7 80 30 04 04 02 6430 0000')), 'MALFORMED', { offset: 1 });
    assertCodecError(() => decodeOdf(hex('a7 83 000006')), 'LIMIT_EXCEEDED');
    assertCodecError(() => decodeOdf(hex('bf 07 00')), 'UNSUPPORTED', { offset: 0 });
  });

  it('names structural problems', () => {
    assertCodecError(() => decodeOdf(hex('30 06 30 04 04 02 6430')), 'MALFORMED', { field: 'EF(ODF)' });
    assertCodecError(() => decodeOdf(hex('a7 06 30 04 04 02 6430 ff 01')), 'TRAILING_BYTES', { offset: 9 });
    assertCodecError(() => decodeOdf(hex('a7 05 30 03 04 01 64')), 'MALFORMED', { field: 'EF(ODF) path' });
    assertCodecError(() => decodeDodf(hex('30 02 3000')), 'MALFORMED', { field: 'opaqueDO' });
    assertCodecError(() => decodeDodf(hex('30 06 3000 3000 a100')), 'MALFORMED', { field: 'opaqueDO typeAttributes' });
    assertCodecError(() => decodeDodf(hex('30 0a 3000 3000 a1 04 30 02 0400')), 'MALFORMED', { field: 'opaqueDO value' });
    assertCodecError(() => decodeDodf(hex('30 0a 3004 0c02 c328 3000 a100')), 'MALFORMED', { field: 'CommonObjectAttributes.label' });
  });

  it('reports every truncation of ODF and DODF as a CodecError', () => {
    for (let length = 1; length < odf.length; length += 1) assertCodecError(() => decodeOdf(odf.subarray(0, length)), 'TRUNCATED');
    for (let length = 1; length < dodf.length; length += 1) {
      // Cut right after the first entry, the DODF is the opaque entry alone, which is valid.
      if (length === OPAQUE_DO.length) assert.equal(decodeDodf(dodf.subarray(0, length)).length, 1);
      else assertCodecError(() => decodeDodf(dodf.subarray(0, length)), 'TRUNCATED');
    }
  });

  it('gives only CodecErrors for mutated directories and random bytes', () => {
    assertOnlyCodecErrors(mutatedBytes(fc.constant(dodf)), decodeDodf, 1500);
    assertOnlyCodecErrors(mutatedBytes(fc.constant(odf)), decodeOdf, 500);
    assertOnlyCodecErrors(fc.uint8Array({ maxLength: 64 }), (bytes) => [decodeDodf(bytes), decodeOdf(bytes)], 1000);
    assertOnlyCodecErrors(mutatedBytes(fc.constant(encodeApplicationTemplate({ aid: PKCS15_AID, path: hex('3f005015') }))), decodeApplicationTemplate, 500);
  });
});
