import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { LambdaContext } from './lambda-context.ts';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
}

/**
 * Logger, metrics and tracer for one function, configured by the Powertools environment
 * variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...).
 * The tracer switches itself off outside Lambda (no AWS_EXECUTION_ENV) and with
 * POWERTOOLS_TRACE_ENABLED=false, so tests and containers need no X-Ray daemon.
 */
export function observability(defaultServiceName: string): Observability {
  const serviceName = process.env['POWERTOOLS_SERVICE_NAME'] || defaultServiceName;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ serviceName, namespace: process.env['POWERTOOLS_METRICS_NAMESPACE'] || 'Lwm2mBootstrap' }),
    tracer: new Tracer({ serviceName }),
  };
}

/**
 * The middy stack both functions share. Neither events nor responses are recorded anywhere:
 * both can hold keys (a device PUT, a bootstrap plan), so `logEvent` and the tracer's
 * response capture are off whatever the environment says.
 */
export function withPowertools<TEvent, TResult>(base: (event: TEvent, context: LambdaContext) => Promise<TResult>, tools: Observability) {
  return middy<TEvent, TResult>(base)
    .use(captureLambdaHandler(tools.tracer, { captureResponse: false }))
    .use(injectLambdaContext(tools.logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
}
