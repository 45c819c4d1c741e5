import type { InstanceNode } from '../content/tree.ts';
import { ServerResource } from '../lwm2m/objects/server.ts';
import { booleanValue, integerValue, stringValue, unsignedValue } from '../lwm2m/value.ts';
import { optionalSingle, single } from './resource-node.ts';
import type { ResolvedAccount } from './server-accounts.ts';

/** Registration options of Server object 1.1/1.2; types as objects/server.ts declares them. */
const RegistrationResource = {
  PRIORITY_ORDER: 13,
  INITIAL_DELAY: 14,
  FAILURE_BLOCK: 15,
  BOOTSTRAP_ON_FAILURE: 16,
  COMMUNICATION_RETRY_COUNT: 17,
  COMMUNICATION_RETRY_TIMER: 18,
  SEQUENCE_DELAY_TIMER: 19,
  SEQUENCE_RETRY_COUNT: 20,
  TRIGGER: 21,
  PREFERRED_TRANSPORT: 22,
  MUTE_SEND: 23,
} as const;

/** Server instance /1/x of one LwM2M Server account. */
export function serverInstance(resolved: ResolvedAccount): InstanceNode {
  const { account } = resolved;
  const registration = account.registration ?? {};
  return {
    id: resolved.serverInstanceId,
    resources: [
      single(ServerResource.SHORT_SERVER_ID, integerValue(account.shortServerId)),
      single(ServerResource.LIFETIME, integerValue(account.lifetime)),
      ...optionalSingle(ServerResource.DEFAULT_MIN_PERIOD, account.defaultMinPeriod, integerValue),
      ...optionalSingle(ServerResource.DEFAULT_MAX_PERIOD, account.defaultMaxPeriod, integerValue),
      ...optionalSingle(ServerResource.DISABLE_TIMEOUT, account.disableTimeout, integerValue),
      single(ServerResource.NOTIFICATION_STORING, booleanValue(account.notificationStoring)),
      single(ServerResource.BINDING, stringValue(account.binding)),
      ...optionalSingle(RegistrationResource.PRIORITY_ORDER, registration.priorityOrder, unsignedValue),
      ...optionalSingle(RegistrationResource.INITIAL_DELAY, registration.initialDelay, unsignedValue),
      ...optionalSingle(RegistrationResource.FAILURE_BLOCK, registration.failureBlock, booleanValue),
      ...optionalSingle(RegistrationResource.BOOTSTRAP_ON_FAILURE, registration.bootstrapOnFailure, booleanValue),
      ...optionalSingle(RegistrationResource.COMMUNICATION_RETRY_COUNT, registration.communicationRetryCount, unsignedValue),
      ...optionalSingle(RegistrationResource.COMMUNICATION_RETRY_TIMER, registration.communicationRetryTimer, unsignedValue),
      ...optionalSingle(RegistrationResource.SEQUENCE_DELAY_TIMER, registration.sequenceDelayTimer, unsignedValue),
      ...optionalSingle(RegistrationResource.SEQUENCE_RETRY_COUNT, registration.sequenceRetryCount, unsignedValue),
      ...optionalSingle(RegistrationResource.TRIGGER, registration.trigger, booleanValue),
      ...optionalSingle(RegistrationResource.PREFERRED_TRANSPORT, registration.preferredTransport, stringValue),
      ...optionalSingle(RegistrationResource.MUTE_SEND, registration.muteSend, booleanValue),
    ],
  };
}
