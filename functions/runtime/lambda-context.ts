/**
 * The part of Lambda's context object the handlers and tests touch. @types/aws-lambda is not a
 * dependency; middy's and Powertools' own types fall back to this shape through it.
 */
export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
}
