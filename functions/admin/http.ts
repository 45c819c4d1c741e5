import type { ConfigurationIssue } from '../../shared/bootstrap/configuration-error.ts';

/** The API Gateway HTTP API event, payload format 2.0: the fields the admin API reads. */
export interface HttpApiEvent {
  readonly version: '2.0';
  readonly routeKey: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  readonly pathParameters?: Readonly<Record<string, string | undefined>>;
  readonly requestContext: {
    readonly http: { readonly method: string; readonly path: string; readonly protocol?: string; readonly sourceIp?: string; readonly userAgent?: string };
    readonly stage?: string;
    readonly requestId?: string;
    readonly [field: string]: unknown;
  };
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

export interface HttpApiResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** One problem with a request; `field` is a path into what was sent. Extra fields say where (import rows). */
export interface ApiIssue {
  readonly field: string;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export type ApiErrorCode =
  | 'bad-request'
  | 'invalid-document'
  | 'not-found'
  | 'conflict'
  | 'invalid-configuration'
  | 'unknown-profile'
  | 'import-rejected'
  | 'unsupported-media-type'
  | 'store-failed'
  | 'internal';

/**
 * An answer other than success. Messages and issues name fields, endpoints and profiles, never
 * the values sent: a body may hold keys.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly issues: readonly ApiIssue[] | undefined;
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(status: number, code: ApiErrorCode, message: string, issues?: readonly ApiIssue[], extra?: Readonly<Record<string, unknown>>) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.extra = extra;
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'not-found', `no ${what}`);

export function issuesOf(issues: readonly ConfigurationIssue[]): ApiIssue[] {
  return issues.map((issue) => ({ field: issue.field, message: issue.message }));
}

export function json(statusCode: number, value: unknown): HttpApiResult {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: JSON.stringify(value) };
}

export function errorResult(error: ApiError): HttpApiResult {
  return json(error.status, {
    error: { code: error.code, message: error.message, ...(error.issues !== undefined && { issues: error.issues }), ...error.extra },
  });
}

export function bodyText(event: HttpApiEvent): string {
  if (event.body === undefined) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** The body as JSON. A parse error names the position only: the text may hold keys. */
export function jsonBody(event: HttpApiEvent): unknown {
  const text = bodyText(event);
  if (text.trim() === '') throw new ApiError(400, 'bad-request', 'the request needs a JSON body');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ApiError(400, 'bad-request', `the body is not valid JSON${position === undefined ? '' : ` (at character ${Number(position) + 1})`}`);
  }
}

/** The media type of the body, lower case, without parameters. */
export function mediaType(event: HttpApiEvent): string | undefined {
  return event.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
}
