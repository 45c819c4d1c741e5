import { defineObject } from '../model.ts';

/**
 * LwM2M Server object (/1), version 1.2 (a superset of 1.0 and 1.1): Core 1.1 Appendix E.2 for
 * 0-9, the OMA registry's 1.xml (urn:oma:lwm2m:oma:1:1.2) for 10-27. Lifetime stays Integer as in
 * E.2 and in one registry revision (another says Unsigned Integer): a signed encoding of a
 * positive lifetime reads back right as either type, an unsigned one does not.
 */
export const SERVER_OBJECT = defineObject(1, 'LwM2M Server', '1.2', true, [
  [0, 'Short Server ID', 'integer', false, true, 'R'],
  [1, 'Lifetime', 'integer', false, true, 'RW'],
  [2, 'Default Minimum Period', 'integer', false, false, 'RW'],
  [3, 'Default Maximum Period', 'integer', false, false, 'RW'],
  [4, 'Disable', 'none', false, false, 'E'],
  [5, 'Disable Timeout', 'integer', false, false, 'RW'],
  [6, 'Notification Storing When Disabled or Offline', 'boolean', false, true, 'RW'],
  [7, 'Binding', 'string', false, true, 'RW'],
  [8, 'Registration Update Trigger', 'none', false, true, 'E'],
  [9, 'Bootstrap-Request Trigger', 'none', false, false, 'E'],
  [10, 'APN Link', 'objlnk', false, false, 'RW'],
  [11, 'TLS-DTLS Alert Code', 'unsigned', false, false, 'R'],
  [12, 'Last Bootstrapped', 'time', false, false, 'R'],
  [13, 'Registration Priority Order', 'unsigned', false, false, 'R'],
  [14, 'Initial Registration Delay Timer', 'unsigned', false, false, 'RW'],
  [15, 'Registration Failure Block', 'boolean', false, false, 'R'],
  [16, 'Bootstrap on Registration Failure', 'boolean', false, false, 'R'],
  [17, 'Communication Retry Count', 'unsigned', false, false, 'RW'],
  [18, 'Communication Retry Timer', 'unsigned', false, false, 'RW'],
  [19, 'Communication Sequence Delay Timer', 'unsigned', false, false, 'RW'],
  [20, 'Communication Sequence Retry Count', 'unsigned', false, false, 'RW'],
  [21, 'Trigger', 'boolean', false, false, 'RW'],
  [22, 'Preferred Transport', 'string', false, false, 'RW'],
  [23, 'Mute Send', 'boolean', false, false, 'RW'],
  [24, 'Alternate APN Links', 'objlnk', true, false, 'RW'],
  [25, 'Supported Server Versions', 'string', true, false, 'RW'],
  [26, 'Default Notification Mode', 'integer', false, false, 'RW'],
  [27, 'Profile ID Hash Algorithm', 'unsigned', false, false, 'RW'],
]);

export const ServerResource = {
  SHORT_SERVER_ID: 0,
  LIFETIME: 1,
  DEFAULT_MIN_PERIOD: 2,
  DEFAULT_MAX_PERIOD: 3,
  DISABLE_TIMEOUT: 5,
  NOTIFICATION_STORING: 6,
  BINDING: 7,
} as const;
