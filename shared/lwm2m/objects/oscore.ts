import { defineObject } from '../model.ts';

/** OSCORE object (/21), version 2.0 (OMA registry 21-2_0.xml): written only through the bootstrap interface. */
export const OSCORE_OBJECT = defineObject(21, 'LwM2M OSCORE', '2.0', true, [
  [0, 'OSCORE Master Secret', 'opaque', false, true, ''],
  [1, 'OSCORE Sender ID', 'opaque', false, true, ''],
  [2, 'OSCORE Recipient ID', 'opaque', false, true, ''],
  [3, 'OSCORE AEAD Algorithm', 'integer', false, false, ''],
  [4, 'OSCORE HMAC Algorithm', 'integer', false, false, ''],
  [5, 'OSCORE Master Salt', 'opaque', false, false, ''],
  [6, 'OSCORE ID Context', 'opaque', false, false, ''],
]);
