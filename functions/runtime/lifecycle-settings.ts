/**
 * Names the attach function and the stack share. Kept apart from functions/attach.ts so the
 * stack can read them without loading the handler (and its SDK clients and Powertools).
 */

/**
 * The EventBridge detail-type of a carrier attach. A carrier integration puts
 * `{ "DetailType": "DeviceAttached", "Detail": <attach event JSON> }` on the stack's bus (any
 * source); the stack's rule sends it to the attach queue, which feeds the attach function.
 */
export const ATTACH_DETAIL_TYPE = 'DeviceAttached';

/**
 * The gateway that runs every Server Initiated Bootstrap. An attach says where the device is
 * (its address and port) but not which gateway can reach that address, and the table does not
 * record which gateway served a device last, so one gateway per deployment is the supported
 * shape. Without it nothing is pushed: the device stays marked and is served at its next
 * Bootstrap-Request.
 */
export const DEFAULT_GATEWAY_ENV = 'LWM2M_BS_DEFAULT_GATEWAY';

/**
 * Where the uplink function schedules account-timeout purges (EventBridgePurgeScheduler): the
 * schedule group, the purge function each schedule targets, the role Scheduler assumes to
 * invoke it, and the queue for invocations that keep failing. The stack sets all four.
 */
export const PURGE_SCHEDULER_ENV = {
  groupName: 'PURGE_SCHEDULE_GROUP',
  targetArn: 'PURGE_FUNCTION_ARN',
  roleArn: 'PURGE_SCHEDULER_ROLE_ARN',
  deadLetterArn: 'PURGE_DEAD_LETTER_ARN',
} as const;
