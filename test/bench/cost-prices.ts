/**
 * On-demand list prices, us-east-1, as known on PRICES_AS_OF. They are not fetched: re-check
 * them against the sources before quoting a figure (docs/cost.md carries the same table).
 * All are USD, first (highest) tier, no free tier.
 */
export const PRICES_AS_OF = '2026-11-23';
export const PRICES_REGION = 'us-east-1';

export interface Price {
  readonly usd: number;
  /** What one `usd` buys. */
  readonly per: string;
  readonly source: string;
}

export const PRICES = {
  lambdaRequest: { usd: 0.2 / 1e6, per: 'request (arm64 and x86 alike)', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaArmGbSecond: { usd: 0.0000133334, per: 'GB-second, arm64, first 7.5 billion GB-s a month', source: 'https://aws.amazon.com/lambda/pricing/' },
  dynamoDbReadUnit: { usd: 0.125 / 1e6, per: 'read request unit, on-demand, Standard table class', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoDbWriteUnit: { usd: 0.625 / 1e6, per: 'write request unit, on-demand, Standard table class', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  iotMessage: { usd: 1.0 / 1e6, per: 'message (5 KB increment), first 1 billion a month', source: 'https://aws.amazon.com/iot-core/pricing/' },
  iotRuleTriggered: { usd: 0.15 / 1e6, per: 'rule triggered (5 KB increment)', source: 'https://aws.amazon.com/iot-core/pricing/' },
  iotActionExecuted: { usd: 0.15 / 1e6, per: 'rule action executed', source: 'https://aws.amazon.com/iot-core/pricing/' },
  iotConnectionMinute: { usd: 0.08 / 1e6, per: 'connection minute (the gateway is always connected: not per bootstrap)', source: 'https://aws.amazon.com/iot-core/pricing/' },
  eventBridgeCustomEvent: { usd: 1.0 / 1e6, per: 'custom event published (64 KB increment)', source: 'https://aws.amazon.com/eventbridge/pricing/' },
  logsIngestedGb: { usd: 0.5, per: 'GB of CloudWatch Logs ingested (Lambda logs, first 10 TB)', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
} as const satisfies Record<string, Price>;

/** IoT Core meters messages, rules and HTTP bodies in 5 KB increments. */
export const IOT_METERING_BYTES = 5 * 1024;
/** EventBridge meters PutEvents entries in 64 KB increments. */
export const EVENTBRIDGE_METERING_BYTES = 64 * 1024;
