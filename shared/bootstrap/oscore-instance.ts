import type { InstanceNode } from '../content/tree.ts';
import { integerValue, opaqueValue } from '../lwm2m/value.ts';
import type { OscoreContext } from './credentials.ts';
import { hexToBytes } from './key-bytes.ts';
import { optionalSingle, single } from './resource-node.ts';

/** Resource ids of OSCORE object 21 (objects/oscore.ts). */
const OscoreResource = {
  MASTER_SECRET: 0,
  SENDER_ID: 1,
  RECIPIENT_ID: 2,
  AEAD_ALGORITHM: 3,
  HKDF_ALGORITHM: 4,
  MASTER_SALT: 5,
  ID_CONTEXT: 6,
} as const;

const opaqueHex = (hex: string) => opaqueValue(hexToBytes(hex));

/** OSCORE instance /21/y of one account, linked from its Security instance's /0/x/17. */
export function oscoreInstance(context: OscoreContext, instanceId: number): InstanceNode {
  return {
    id: instanceId,
    resources: [
      single(OscoreResource.MASTER_SECRET, opaqueHex(context.masterSecret)),
      single(OscoreResource.SENDER_ID, opaqueHex(context.senderId)),
      single(OscoreResource.RECIPIENT_ID, opaqueHex(context.recipientId)),
      single(OscoreResource.AEAD_ALGORITHM, integerValue(context.aeadAlgorithm)),
      single(OscoreResource.HKDF_ALGORITHM, integerValue(context.hkdfAlgorithm)),
      ...optionalSingle(OscoreResource.MASTER_SALT, context.masterSalt, opaqueHex),
      ...optionalSingle(OscoreResource.ID_CONTEXT, context.idContext, opaqueHex),
    ],
  };
}
