import { CfnOutput, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { adminApiRoutes } from '../../functions/admin/routes.ts';

/**
 * The admin operations, the same as the CLI's (which signs them with SigV4, `--endpoint`):
 * taken from the handler's own route table, so stack and handler cannot disagree.
 */
export const ADMIN_ROUTES: readonly { readonly method: HttpMethod; readonly path: string }[] = adminApiRoutes.map((route) => ({
  method: HttpMethod[route.method],
  path: route.path,
}));

export interface AdminApiProps {
  readonly handler: IFunction;
}

/**
 * HTTP API (payload format 2.0) with IAM authorization on every route: whoever may call it
 * is decided by IAM policies on `execute-api:Invoke`, no API keys or tokens of our own.
 */
export class AdminApi extends Construct {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new HttpApi(this, 'Api', {
      description: 'lwm2m-bs admin API',
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
    });
    this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      // An admin API sees a few requests a second at most; a runaway script is stopped here.
      throttle: { rateLimit: 20, burstLimit: 40 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          time: '$context.requestTime',
          caller: '$context.identity.caller',
          userArn: '$context.identity.userArn',
          sourceIp: '$context.identity.sourceIp',
          method: '$context.httpMethod',
          route: '$context.routeKey',
          status: '$context.status',
          latencyMs: '$context.responseLatency',
          integrationError: '$context.integrationErrorMessage',
        })),
      },
    });
    const integration = new HttpLambdaIntegration('Handler', props.handler);
    for (const route of ADMIN_ROUTES) {
      this.api.addRoutes({ path: route.path, methods: [route.method], integration });
    }
    new CfnOutput(Stack.of(this), 'AdminApiEndpoint', { description: 'Admin API base URL (SigV4, service execute-api)', value: this.api.apiEndpoint });
  }
}
