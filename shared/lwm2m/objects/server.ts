import { defineObject } from '../model.ts';

/** LwM2M Server object (/1), version 1.2 (a superset of 1.0 and 1.1). */
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
  [13, 'Registration Priority Order', 'unsigned', false, false, 'RW'],
  [14, 'Initial Registration Delay Timer', 'unsigned', false, false, 'RW'],
  [15, 'Registration Failure Block', 'boolean', false, false, 'RW'],
  [16, 'Bootstrap on Registration Failure', 'boolean', false, false, 'RW'],
  [17, 'Communication Retry Count', 'unsigned', false, false, 'RW'],
  [18, 'Communication Retry Timer', 'unsigned', false, false, 'RW'],
  [19, 'Communication Sequence Delay Timer', 'unsigned', false, false, 'RW'],
  [20, 'Communication Sequence Retry Count', 'unsigned', false, false, 'RW'],
  [21, 'Trigger', 'boolean', false, false, 'RW'],
  [22, 'Preferred Transport', 'string', false, false, 'RW'],
  [23, 'Mute Send', 'boolean', false, false, 'RW'],
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
