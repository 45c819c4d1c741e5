import { defineObject } from '../model.ts';

/** LwM2M Security object (/0), version 1.1. Only the bootstrap interface reads or writes it. */
export const SECURITY_OBJECT = defineObject(0, 'LwM2M Security', '1.1', true, [
  [0, 'LwM2M Server URI', 'string', false, true, ''],
  [1, 'Bootstrap-Server', 'boolean', false, true, ''],
  [2, 'Security Mode', 'integer', false, true, ''],
  [3, 'Public Key or Identity', 'opaque', false, true, ''],
  [4, 'Server Public Key', 'opaque', false, true, ''],
  [5, 'Secret Key', 'opaque', false, true, ''],
  [6, 'SMS Security Mode', 'integer', false, false, ''],
  [7, 'SMS Binding Key Parameters', 'opaque', false, false, ''],
  [8, 'SMS Binding Secret Key(s)', 'opaque', false, false, ''],
  [9, 'LwM2M Server SMS Number', 'string', false, false, ''],
  [10, 'Short Server ID', 'integer', false, false, ''],
  [11, 'Client Hold Off Time', 'integer', false, false, ''],
  [12, 'Bootstrap-Server Account Timeout', 'integer', false, false, ''],
  [13, 'Matching Type', 'unsigned', false, false, ''],
  [14, 'SNI', 'string', false, false, ''],
  [15, 'Certificate Usage', 'unsigned', false, false, ''],
  [16, 'DTLS/TLS Ciphersuite', 'unsigned', true, false, ''],
  [17, 'OSCORE Security Mode', 'objlnk', false, false, ''],
]);

/** Security Mode values (/0/x/2). */
export const SecurityMode = { PSK: 0, RPK: 1, X509: 2, NO_SEC: 3, EST: 4 } as const;
export type SecurityMode = (typeof SecurityMode)[keyof typeof SecurityMode];

export const SecurityResource = {
  SERVER_URI: 0,
  BOOTSTRAP_SERVER: 1,
  SECURITY_MODE: 2,
  PUBLIC_KEY_OR_IDENTITY: 3,
  SERVER_PUBLIC_KEY: 4,
  SECRET_KEY: 5,
  SHORT_SERVER_ID: 10,
  CLIENT_HOLD_OFF_TIME: 11,
  BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT: 12,
  MATCHING_TYPE: 13,
  SNI: 14,
  CERTIFICATE_USAGE: 15,
  DTLS_TLS_CIPHERSUITE: 16,
  OSCORE_SECURITY_MODE: 17,
} as const;
