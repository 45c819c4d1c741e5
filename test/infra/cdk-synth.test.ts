import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONTEXT } from '../../infra/context.ts';
import { STACK_NAME } from '../../infra/stack.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** No credentials, no account: the environment-agnostic stack a CI machine synthesizes. */
function offlineEnv(): NodeJS.ProcessEnv {
  const dropped = new Set(['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
  const kept = Object.entries(process.env).filter(([name]) => !dropped.has(name));
  return { ...Object.fromEntries(kept), CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' };
}

// The real CLI, offline, as CI runs it: no version check, no telemetry, and no esbuild (the
// bundles are the placeholder code); the app's cdk-nag plugin fails this synth on any finding.
it('cdk synth runs offline and exits 0 with the stack template', () => {
  const out = mkdtempSync(join(tmpdir(), 'lwm2m-bs-cdk-'));
  try {
    const result = spawnSync(join(repoRoot, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--no-notices', '-c', `${CONTEXT.skipBundling}=true`, '-o', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      env: offlineEnv(),
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const template = JSON.parse(readFileSync(join(out, `${STACK_NAME}.template.json`), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
    for (const type of ['AWS::DynamoDB::Table', 'AWS::IoT::TopicRule', 'AWS::ApiGatewayV2::Api', 'AWS::Scheduler::ScheduleGroup']) assert.ok(types.has(type), type);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
