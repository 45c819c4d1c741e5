import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpApiEvent } from '../../functions/admin/http.ts';
import { matchRoute, routeKey } from '../../functions/admin/routes.ts';
import type { handler as adminApiHandler } from '../../functions/admin-api.ts';
import type { LambdaContext } from '../../functions/runtime/lambda-context.ts';
import { startDynalite, localDynamoDbClient } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import { SERVER_CREDENTIALS_KEY_ENV } from '../../server/aws/kms-key-sealer.ts';
import { startFakeKms, type FakeKms } from '../fixtures/fake-kms.ts';
import { PURGE_SCHEDULER_ENV } from '../../functions/runtime/lifecycle-settings.ts';

/** The purge scheduler's settings the uplink function requires, for tests that only need them present. */
export const PURGE_SCHEDULER_TEST_ENV: Readonly<Record<string, string>> = {
  [PURGE_SCHEDULER_ENV.groupName]: 'lwm2m-bs-purges',
  [PURGE_SCHEDULER_ENV.targetArn]: 'arn:aws:lambda:eu-west-1:123456789012:function:purge',
  [PURGE_SCHEDULER_ENV.roleArn]: 'arn:aws:iam::123456789012:role/scheduler',
  [PURGE_SCHEDULER_ENV.deadLetterArn]: 'arn:aws:sqs:eu-west-1:123456789012:purge-failures',
};

/**
 * The environment a deployed function gets, pointed at dynalite. The SDK reads
 * AWS_ENDPOINT_URL_DYNAMODB itself, so the handlers build their clients as in Lambda. Call
 * before the handler module is first imported: Powertools reads its settings at import.
 */
export async function functionEnvironment(extra: Record<string, string> = {}): Promise<{ store: DynamoDbBootstrapStore; kms: FakeKms; close(): Promise<void> }> {
  const dynalite = await startDynalite({});
  // The admin API fingerprints bootstrap keys with KMS GenerateMac, the uplink function seals
  // minted server keys with KMS Encrypt: the real SDK client, here answered by a fake
  // (test/fixtures/fake-kms.ts), as there is no local KMS.
  const kms = await startFakeKms();
  const client = localDynamoDbClient(dynalite.endpoint);
  const tableName = 'functions-test';
  await ensureTable(client, tableName, { pollMs: 20 });
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.url,
    KEY_FINGERPRINT_KEY_ARN: kms.keyId,
    [SERVER_CREDENTIALS_KEY_ENV]: kms.encryptionKeyId,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TABLE_NAME: tableName,
    POWERTOOLS_SERVICE_NAME: 'lwm2m-bs-test',
    POWERTOOLS_METRICS_NAMESPACE: 'Lwm2mBootstrapTest',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...extra,
  });
  return {
    store: new DynamoDbBootstrapStore({ client, tableName }),
    kms,
    async close() {
      client.destroy();
      await dynalite.close();
      await kms.close();
    },
  };
}

export function lambdaContext(functionName: string): LambdaContext {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 30_000,
  };
}

/**
 * An API Gateway HTTP API event (payload format 2.0) as API Gateway builds it for a declared
 * route with IAM authorization: route key, raw and decoded path, lower-case headers,
 * comma-joined query values, the caller's IAM identity.
 */
export function httpApiEvent(
  method: string,
  routePath: string,
  options: { params?: Record<string, string>; query?: Record<string, string>; body?: string; contentType?: string; base64?: boolean } = {},
): HttpApiEvent {
  const params = options.params ?? {};
  const rawPath = routePath.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const rawQueryString = new URLSearchParams(options.query ?? {}).toString();
  const body = options.body === undefined ? undefined : options.base64 === true ? Buffer.from(options.body, 'utf8').toString('base64') : options.body;
  return {
    version: '2.0',
    routeKey: `${method} ${routePath}`,
    rawPath,
    rawQueryString,
    headers: {
      accept: '*/*',
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'lwm2m-bs-cli',
      'x-amz-date': '20260101T000000Z',
      'x-forwarded-proto': 'https',
      ...(options.contentType !== undefined && { 'content-type': options.contentType }),
      ...(body !== undefined && { 'content-length': String(Buffer.byteLength(options.body ?? '')) }),
    },
    ...(options.query !== undefined && { queryStringParameters: options.query }),
    ...(Object.keys(params).length > 0 && { pathParameters: params }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: { iam: { accessKey: 'AKIA000000', accountId: '123456789012', callerId: 'AIDA000000', principalOrgId: null, userArn: 'arn:aws:iam::123456789012:user/operator', userId: 'AIDA000000' } },
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'lwm2m-bs-cli' },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: `${method} ${routePath}`,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 1767225600000,
    },
    ...(body !== undefined && { body }),
    isBase64Encoded: options.base64 === true,
  };
}

/**
 * API Gateway's part in front of the admin API, minus IAM: each HTTP request becomes the payload
 * format 2.0 event of its route (a body passed on as base64, as API Gateway does with one it does
 * not take for text), and the handler's answer goes back.
 */
export async function startGateway(handler: typeof adminApiHandler): Promise<{ url: string; close(): Promise<void> }> {
  const context = lambdaContext('admin-api');
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const method = request.method ?? 'GET';
      const matched = matchRoute(method, url.pathname);
      const body = Buffer.concat(chunks);
      const event: HttpApiEvent = {
        version: '2.0',
        routeKey: matched === undefined ? '$default' : routeKey(matched.route),
        rawPath: url.pathname,
        rawQueryString: url.searchParams.toString(),
        headers: { ...(request.headers['content-type'] !== undefined && { 'content-type': request.headers['content-type'] }) },
        ...(url.searchParams.size > 0 && { queryStringParameters: Object.fromEntries(url.searchParams) }),
        ...(matched !== undefined && { pathParameters: matched.params }),
        requestContext: { http: { method, path: url.pathname }, stage: '$default', requestId: 'test' },
        ...(body.length > 0 && { body: body.toString('base64') }),
        isBase64Encoded: body.length > 0,
      };
      handler(event, context)
        .then((result) => response.writeHead(result.statusCode, result.headers).end(result.body))
        .catch((error: unknown) => response.writeHead(500).end(String(error)));
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export { startBroker } from '../fixtures/mqtt-broker.ts';
