import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LwM2mBootstrapStack, STACK_NAME } from './stack.ts';

/**
 * The CDK app (`cdk.json`: `node --import tsx infra/app.ts`). Account and region come from the
 * CLI's credentials; without them the stack is environment-agnostic, which offline synth needs.
 * cdk-nag's AWS Solutions rules run on every synth: an unsuppressed error fails it.
 */
const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT || undefined;
const region = process.env.CDK_DEFAULT_REGION || undefined;
new LwM2mBootstrapStack(app, STACK_NAME, account !== undefined && region !== undefined ? { env: { account, region } } : {});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
app.synth();
