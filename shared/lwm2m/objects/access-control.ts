import { defineObject } from '../model.ts';

/** LwM2M Access Control object (/2). */
export const ACCESS_CONTROL_OBJECT = defineObject(2, 'LwM2M Access Control', '1.1', true, [
  [0, 'Object ID', 'integer', false, true, 'R'],
  [1, 'Object Instance ID', 'integer', false, true, 'R'],
  [2, 'ACL', 'integer', true, false, 'RW'],
  [3, 'Access Control Owner', 'integer', false, true, 'RW'],
]);

/** ACL bits (/2/x/2/ssid). */
export const AclRight = { READ: 1, WRITE: 2, EXECUTE: 4, DELETE: 8, CREATE: 16 } as const;
