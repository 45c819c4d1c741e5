import { TOPIC_ROOT, UPLINK_TOPIC_FILTER } from '../server/aws/topics.ts';

/**
 * The IoT Core topics as the stack needs them: patterns for IAM and IoT policies, which the
 * runtime's `uplinkTopic`/`downlinkTopic` rightly refuse (they validate real gateway ids). The
 * root and the rule's filter come from the runtime module, so the two cannot drift.
 */
export const GATEWAY_TOPIC_ROOT = TOPIC_ROOT;

/** `segment` is a wildcard or a policy variable here, never a gateway id. */
export function uplinkTopicPattern(segment: string): string {
  return `${GATEWAY_TOPIC_ROOT}/${segment}/uplink`;
}

export function downlinkTopicPattern(segment: string): string {
  return `${GATEWAY_TOPIC_ROOT}/${segment}/downlink`;
}

/** The rule's SQL: `topic(3)` is the gateway's segment of `lwm2m-bs/gateways/<id>/uplink`. */
export const UPLINK_RULE_SQL = `SELECT *, topic(3) AS gatewayTopicId FROM '${UPLINK_TOPIC_FILTER}'`;
