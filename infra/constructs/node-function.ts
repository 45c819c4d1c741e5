import { fileURLToPath } from 'node:url';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, LoggingFormat, Runtime, Tracing, type FunctionProps } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export const SERVICE_NAME = 'lwm2m-bs';
export const METRICS_NAMESPACE = 'Lwm2mBootstrap';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Every function of the stack is built the same way: Node.js 24 on arm64, an esbuild ESM bundle
 * with the AWS SDK inside, active tracing, JSON logs in a retained log group, a role of its own
 * with log rights on that group only, and an inline placeholder when bundling is skipped.
 */
export function nodeFunction(
  scope: Construct,
  id: string,
  entry: string,
  skipBundling: boolean,
  props: Partial<FunctionProps> & Pick<FunctionProps, 'timeout' | 'environment'>,
): LambdaFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
  // A role of our own: the default one carries the managed AWSLambdaBasicExecutionRole,
  // which may write to every log group in the account.
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  role.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  const common = {
    ...props,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    tracing: Tracing.ACTIVE,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    role,
    environment: {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
    },
  };
  if (skipBundling) {
    return new LambdaFunction(scope, id, {
      ...common,
      handler: 'index.handler',
      code: Code.fromInline(`exports.handler = async () => { throw new Error('placeholder for ${entry}: synthesized with ${'lwm2m-bs:skipBundling'}'); };`),
    });
  }
  return new NodejsFunction(scope, id, {
    ...common,
    entry: `${repoRoot}${entry}`,
    projectRoot: repoRoot,
    depsLockFilePath: `${repoRoot}package-lock.json`,
    handler: 'handler',
    bundling: {
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      mainFields: ['module', 'main'],
      // Some dependencies still call require(); ESM output has none unless we make one.
      banner: "import { createRequire as __lwm2mCreateRequire } from 'node:module'; const require = __lwm2mCreateRequire(import.meta.url);",
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // Bundle the AWS SDK too: the version we test is the version that runs.
      externalModules: [],
    },
  });
}
