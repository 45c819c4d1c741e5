import { defineObject } from '../model.ts';

/** Device object (/3), version 1.1. A bootstrap never deletes it. */
export const DEVICE_OBJECT = defineObject(3, 'Device', '1.1', false, [
  [0, 'Manufacturer', 'string', false, false, 'R'],
  [1, 'Model Number', 'string', false, false, 'R'],
  [2, 'Serial Number', 'string', false, false, 'R'],
  [3, 'Firmware Version', 'string', false, false, 'R'],
  [4, 'Reboot', 'none', false, true, 'E'],
  [5, 'Factory Reset', 'none', false, false, 'E'],
  [6, 'Available Power Sources', 'integer', true, false, 'R'],
  [7, 'Power Source Voltage', 'integer', true, false, 'R'],
  [8, 'Power Source Current', 'integer', true, false, 'R'],
  [9, 'Battery Level', 'integer', false, false, 'R'],
  [10, 'Memory Free', 'integer', false, false, 'R'],
  [11, 'Error Code', 'integer', true, true, 'R'],
  [12, 'Reset Error Code', 'none', false, false, 'E'],
  [13, 'Current Time', 'time', false, false, 'RW'],
  [14, 'UTC Offset', 'string', false, false, 'RW'],
  [15, 'Timezone', 'string', false, false, 'RW'],
  [16, 'Supported Binding and Modes', 'string', false, true, 'R'],
  [17, 'Device Type', 'string', false, false, 'R'],
  [18, 'Hardware Version', 'string', false, false, 'R'],
  [19, 'Software Version', 'string', false, false, 'R'],
  [20, 'Battery Status', 'integer', false, false, 'R'],
  [21, 'Memory Total', 'integer', false, false, 'R'],
  [22, 'ExtDevInfo', 'objlnk', true, false, 'R'],
]);
