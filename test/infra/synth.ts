import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CONTEXT } from '../../infra/context.ts';
import { LwM2mBootstrapStack, STACK_NAME } from '../../infra/stack.ts';

export interface Synthesized {
  readonly app: App;
  readonly stack: LwM2mBootstrapStack;
  readonly template: Template;
}

/** The stack with inline placeholder code, so tests never run esbuild. */
export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const app = new App({ context: { [CONTEXT.skipBundling]: true, ...context } });
  const stack = new LwM2mBootstrapStack(app, STACK_NAME);
  return { app, stack, template: Template.fromStack(stack) };
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Every statement of every inline policy, with the logical id of its policy. */
export function policyStatements(template: Template): { policy: string; statement: Statement }[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<string, { Properties: { PolicyDocument: { Statement: Statement[] } } }>;
  return Object.entries(policies).flatMap(([policy, resource]) => resource.Properties.PolicyDocument.Statement.map((statement) => ({ policy, statement })));
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

export function logicalIdOf(stack: LwM2mBootstrapStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}
