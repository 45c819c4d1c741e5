/**
 * The shapes Lambda's SQS event source mapping delivers and reads back (@types/aws-lambda is
 * not a dependency). Only the fields the handlers touch are typed; the rest are passed through.
 */
export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: {
    /** How many times the message was received, this time included: "1" on the first delivery. */
    readonly ApproximateReceiveCount: string;
    readonly SentTimestamp: string;
    readonly SenderId: string;
    readonly ApproximateFirstReceiveTimestamp: string;
    readonly [name: string]: string;
  };
  readonly messageAttributes: Record<string, unknown>;
  readonly md5OfBody: string;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
  readonly awsRegion: string;
}

export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/**
 * With `ReportBatchItemFailures` on the mapping, the messages named here return to the queue
 * (and reach its dead-letter queue after maxReceiveCount); every other one is deleted.
 */
export interface SqsBatchResponse {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

/**
 * An event as an EventBridge rule hands it to an SQS target: the whole envelope, as JSON, in
 * the message body. `detail` is the producer's payload.
 */
export interface EventBridgeEnvelope {
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly time: string;
  readonly detail: unknown;
}

/** The envelope of a message body, or a reason it is not one (no values quoted). */
export function parseEventBridgeEnvelope(body: string): { ok: true; envelope: EventBridgeEnvelope } | { ok: false; reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the message body is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'the message body is not a JSON object' };
  const fields = parsed as Record<string, unknown>;
  for (const name of ['id', 'detail-type', 'source', 'time'] as const) {
    if (typeof fields[name] !== 'string') return { ok: false, reason: `the message body is not an EventBridge event: "${name}" is missing or not a string` };
  }
  if (!('detail' in fields)) return { ok: false, reason: 'the message body is not an EventBridge event: "detail" is missing' };
  return { ok: true, envelope: fields as unknown as EventBridgeEnvelope };
}
