/**
 * The IoT Core topics of the gateway contract, one pair per gateway. The topic rule selects
 * `topic(3)` of the uplink topic as the gateway id, so the id sits at that level and may not
 * contain `/` (nor the MQTT wildcards).
 */
export const TOPIC_ROOT = 'lwm2m-bs/gateways';

/**
 * Broadcast to every gateway: the PSK identities a purge revoked, which each gateway drops from
 * its PSK cache (shared/bootstrap/psk-revocation.ts). Outside TOPIC_ROOT's per-gateway levels,
 * so no uplink filter matches it.
 */
export const PSK_REVOCATIONS_TOPIC = 'lwm2m-bs/psk-revocations';

/** What the uplink topic rule listens on. */
export const UPLINK_TOPIC_FILTER = `${TOPIC_ROOT}/+/uplink`;

const GATEWAY_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isGatewayTopicId(gatewayId: string): boolean {
  return GATEWAY_ID.test(gatewayId);
}

export function uplinkTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/${checked(gatewayId)}/uplink`;
}

export function downlinkTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/${checked(gatewayId)}/downlink`;
}

/** The gateway id an uplink topic names, or undefined for any other topic. */
export function gatewayIdOfUplinkTopic(topic: string): string | undefined {
  const match = /^lwm2m-bs\/gateways\/([^/]+)\/uplink$/.exec(topic);
  return match?.[1] !== undefined && isGatewayTopicId(match[1]) ? match[1] : undefined;
}

function checked(gatewayId: string): string {
  if (!isGatewayTopicId(gatewayId)) throw new RangeError('a gateway id is 1 to 64 of A-Z a-z 0-9 _ . : -');
  return gatewayId;
}
