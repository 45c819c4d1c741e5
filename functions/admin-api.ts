import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { z } from 'zod';
import type { BootstrapStore } from '../shared/bootstrap/store.ts';
import type { KeyFingerprinter } from '../shared/lifecycle/key-fingerprint.ts';
import { KmsKeyFingerprinter } from '../server/aws/kms-key-fingerprinter.ts';
import { InvalidCursorError } from '../server/store/cursor.ts';
import { DynamoDbBootstrapStore } from '../server/store/dynamodb-store.ts';
import { KEY_FINGERPRINT_KEY_ENV } from './admin/key-fingerprint-env.ts';
import { ApiError, errorResult, type HttpApiEvent, type HttpApiResult } from './admin/http.ts';
import { operations } from './admin/operations.ts';
import { adminApiRoutes, matchRoute, routeKey, type MatchedRoute } from './admin/routes.ts';
import { readEnvironment } from './runtime/env.ts';
import { observability, withPowertools } from './runtime/powertools.ts';

export { adminApiRoutes, routeKey, type AdminRoute } from './admin/routes.ts';
export type { HttpApiEvent, HttpApiResult } from './admin/http.ts';

/**
 * The admin API: API Gateway HTTP API (payload format 2.0, IAM authorization) in front of the
 * same store and checks as the CLI. Errors are `{ error: { code, message, issues? } }` with 400
 * (malformed request or document), 404, 409 (a PSK identity another device holds), 415 (import
 * media type), 422 (a document that would not bootstrap, an import with rejected rows) or 503
 * (the store failed during an import, which was rolled back). Keys leave only with
 * `showSecrets=true`, and nothing a request sent is repeated in an error.
 */
const tools = observability('lwm2m-bs-admin-api');

let dependencies: { readonly store: BootstrapStore; readonly fingerprinter: KeyFingerprinter } | undefined;

function adminDependencies(): { readonly store: BootstrapStore; readonly fingerprinter: KeyFingerprinter } {
  if (dependencies !== undefined) return dependencies;
  const env = readEnvironment({ TABLE_NAME: z.string().min(1), [KEY_FINGERPRINT_KEY_ENV]: z.string().min(1) });
  dependencies = {
    store: new DynamoDbBootstrapStore({
      client: tools.tracer.captureAWSv3Client(new DynamoDBClient({})),
      tableName: env.TABLE_NAME,
      onWarning: (message) => tools.logger.warn(message),
    }),
    fingerprinter: new KmsKeyFingerprinter({ kms: tools.tracer.captureAWSv3Client(new KMSClient({})), keyId: env[KEY_FINGERPRINT_KEY_ENV] }),
  };
  return dependencies;
}

/**
 * The route of an event. API Gateway names it in `routeKey` when the stack declares each route;
 * behind a catch-all (`$default`, `ANY /{proxy+}`) the path decides, without a named stage's prefix.
 */
function route(event: HttpApiEvent): MatchedRoute | undefined {
  const declared = adminApiRoutes.find((candidate) => routeKey(candidate) === event.routeKey);
  if (declared !== undefined && event.pathParameters !== undefined) {
    const params = Object.fromEntries(Object.entries(event.pathParameters).filter((entry): entry is [string, string] => entry[1] !== undefined));
    if (declared.path.match(/\{(\w+)\}/g)?.every((part) => params[part.slice(1, -1)] !== undefined) ?? true) return { route: declared, params };
  }
  const stage = event.requestContext.stage;
  const prefix = stage === undefined || stage === '$default' ? '' : `/${stage}`;
  const path = prefix !== '' && event.rawPath.startsWith(`${prefix}/`) ? event.rawPath.slice(prefix.length) : event.rawPath;
  return matchRoute(event.requestContext.http.method, path);
}

async function handleAdminRequest(event: HttpApiEvent): Promise<HttpApiResult> {
  tools.metrics.addMetric('AdminRequests', MetricUnit.Count, 1);
  const matched = route(event);
  if (matched === undefined) return errorResult(new ApiError(404, 'not-found', `no route ${event.requestContext.http.method} ${event.rawPath}`));
  tools.logger.appendKeys({ operation: matched.route.operationId });
  try {
    return await operations[matched.route.operationId]({ event, params: matched.params, ...adminDependencies() });
  } catch (error) {
    const answer = asApiError(error);
    tools.metrics.addMetric(answer.status >= 500 ? 'AdminServerErrors' : 'AdminClientErrors', MetricUnit.Count, 1);
    if (answer.status >= 500) tools.logger.error('admin request failed', { code: answer.code, error: describe(error) });
    else tools.logger.info('admin request refused', { status: answer.status, code: answer.code });
    return errorResult(answer);
  }
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidCursorError) return new ApiError(400, 'bad-request', error.message, [{ field: 'cursor', message: 'not a cursor this API handed out' }]);
  return new ApiError(500, 'internal', 'internal error; the request id is in the function log');
}

/** Store and SDK errors name the failure and the item key, never the values written. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}

export const handler = withPowertools<HttpApiEvent, HttpApiResult>((event: HttpApiEvent): Promise<HttpApiResult> => handleAdminRequest(event), tools);
