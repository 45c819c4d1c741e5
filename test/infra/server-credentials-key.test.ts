import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONTEXT } from '../../infra/context.ts';
import { SERVER_CREDENTIALS_KEY_ENV } from '../../server/aws/kms-key-sealer.ts';
import { logicalIdOf, synthesize } from './synth.ts';

// The KMS key minted LwM2M Server keys are sealed with (ServerCredentialsIssued events), as the
// stack synthesizes it: its own symmetric key, rotated, named to the uplink function, and handed
// out as an output for the LwM2M server side's kms:Decrypt grant. The exact IAM statement is
// pinned in least-privilege.test.ts.
describe('the server credentials key', () => {
  const { stack, template } = synthesize();
  const keyId = logicalIdOf(stack, stack.data.serverCredentialsKey);
  const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };

  it('is a symmetric encryption key of its own, with rotation on', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: {
        Description: Match.stringLikeRegexp('ServerCredentialsIssued'),
        EnableKeyRotation: true,
        // Absent means SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT, the only kind KMS rotates.
        KeySpec: Match.absent(),
        KeyUsage: Match.absent(),
      },
    });
    assert.notEqual(keyId, logicalIdOf(stack, stack.data.key), 'not the table key');
    assert.notEqual(keyId, logicalIdOf(stack, stack.data.fingerprintKey), 'not the fingerprint key');
    const key = template.toJSON().Resources[keyId] as { DeletionPolicy?: string };
    assert.equal(key.DeletionPolicy, 'Retain', 'kept with the table: archived events stay readable');
  });

  it('is named to the uplink function, which may Encrypt with it', () => {
    const uplinkId = logicalIdOf(stack, stack.functions.gatewayUplink);
    const variables = template.toJSON().Resources[uplinkId].Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(variables[SERVER_CREDENTIALS_KEY_ENV], keyArn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Encrypt', Resource: keyArn, Condition: Match.objectLike({ Null: Match.anyValue() }) })]) },
      Roles: [{ Ref: stack.getLogicalId(stack.functions.gatewayUplink.role!.node.defaultChild as never) }],
    });
  });

  it('is a stack output, for the LwM2M server side\'s kms:Decrypt grant', () => {
    template.hasOutput('ServerCredentialsKeyArn', { Value: keyArn, Description: Match.stringLikeRegexp('kms:Decrypt') });
  });

  it('is destroyed with a stack that does not protect its data', () => {
    const unprotected = synthesize({ [CONTEXT.deletionProtection]: false });
    const key = unprotected.template.toJSON().Resources[logicalIdOf(unprotected.stack, unprotected.stack.data.serverCredentialsKey)] as { DeletionPolicy?: string; Properties: { PendingWindowInDays?: number } };
    assert.equal(key.DeletionPolicy, 'Delete');
    assert.equal(key.Properties.PendingWindowInDays, 7);
  });
});
