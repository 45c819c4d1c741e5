import { ContentFormat } from '../shared/content/format.ts';
import { ACCESS_CONTROL, DEVICE, OSCORE, SECURITY, SERVER } from './client-state.ts';

/** The LwM2M enabler versions a simulated client can speak. */
export type ClientVersion = '1.0' | '1.1' | '1.2';

export const CLIENT_VERSIONS: readonly ClientVersion[] = ['1.0', '1.1', '1.2'];

/**
 * What real clients of each version accept in a Bootstrap-Write: 1.0 only TLV (under both its
 * numbers), 1.1 adds SenML-JSON and SenML-CBOR, 1.2 adds LwM2M-CBOR.
 */
export function defaultSupportedFormats(version: ClientVersion): number[] {
  const tlv = [ContentFormat.TLV, ContentFormat.TLV_LEGACY];
  if (version === '1.0') return tlv;
  const senml = [...tlv, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR];
  return version === '1.1' ? senml : [...senml, ContentFormat.LWM2M_CBOR];
}

/** The `pct` a client announces; 1.0 announces none and reads nothing, TLV stands for it. */
export function defaultPreferredFormat(version: ClientVersion): number {
  switch (version) {
    case '1.0':
      return ContentFormat.TLV;
    case '1.1':
      return ContentFormat.SENML_JSON;
    case '1.2':
      return ContentFormat.SENML_CBOR;
  }
}

/** OSCORE (21) arrived with LwM2M 1.1. */
export function supportedObjects(version: ClientVersion): number[] {
  return version === '1.0' ? [SECURITY, SERVER, ACCESS_CONTROL, DEVICE] : [SECURITY, SERVER, ACCESS_CONTROL, DEVICE, OSCORE];
}
