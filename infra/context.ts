import type { Node } from 'constructs';

/**
 * The context flags the stack reads (`cdk.json`, or `-c key=value` on the command line).
 * Values from the command line arrive as strings, from `cdk.json` as JSON; both are accepted.
 */
export const CONTEXT = {
  /** Lambda code becomes an inline placeholder: for tests and offline synth without esbuild. */
  skipBundling: 'lwm2m-bs:skipBundling',
  /** DynamoDB deletion protection and RETAIN on the table and its key; on unless `false`. */
  deletionProtection: 'lwm2m-bs:deletionProtection',
  /** The optional gateway container (ECS Fargate behind an NLB); off unless `true`. */
  gateway: 'lwm2m-bs:gateway',
  /** The IoT data endpoint, when known; otherwise the uplink function asks iot:DescribeEndpoint. */
  iotDataEndpoint: 'lwm2m-bs:iotDataEndpoint',
  /**
   * The complete ARN (with its random suffix) of the gateway's certificate secret. ECS reads a
   * JSON key of a secret only through the complete ARN; a name-based reference fails at task start.
   */
  gatewayCertificateSecretArn: 'lwm2m-bs:gatewayCertificateSecretArn',
  /** Reserved concurrency of the admin API function; `false` for accounts whose quota is 10. */
  adminApiReservedConcurrency: 'lwm2m-bs:adminApiReservedConcurrency',
  /** Where alarm notifications go by e-mail; none when unset. */
  alarmEmail: 'lwm2m-bs:alarmEmail',
} as const;

export interface StackSettings {
  readonly skipBundling: boolean;
  readonly deletionProtection: boolean;
  readonly gateway: boolean;
  readonly iotDataEndpoint: string | undefined;
  readonly gatewayCertificateSecretArn: string | undefined;
  readonly adminApiReservedConcurrency: number | undefined;
  readonly alarmEmail: string | undefined;
}

export const DEFAULT_ADMIN_API_RESERVED_CONCURRENCY = 5;

export function readSettings(node: Node): StackSettings {
  return {
    skipBundling: flag(node, CONTEXT.skipBundling, false),
    deletionProtection: flag(node, CONTEXT.deletionProtection, true),
    gateway: flag(node, CONTEXT.gateway, false),
    iotDataEndpoint: text(node, CONTEXT.iotDataEndpoint),
    gatewayCertificateSecretArn: text(node, CONTEXT.gatewayCertificateSecretArn),
    adminApiReservedConcurrency: concurrency(node, CONTEXT.adminApiReservedConcurrency),
    alarmEmail: text(node, CONTEXT.alarmEmail),
  };
}

function flag(node: Node, key: string, fallback: boolean): boolean {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false`);
}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`context ${key} must be a string`);
  return value;
}

function concurrency(node: Node, key: string): number | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined) return DEFAULT_ADMIN_API_RESERVED_CONCURRENCY;
  if (value === false || value === 'false') return undefined;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number === 'number' && Number.isInteger(number) && number > 0) return number;
  throw new Error(`context ${key} must be a positive integer or false`);
}
