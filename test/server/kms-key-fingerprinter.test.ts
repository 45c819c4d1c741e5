import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { GenerateMacCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KmsKeyFingerprinter } from '../../server/aws/kms-key-fingerprinter.ts';

// A live KMS cannot run here (no AWS account, and dynalite speaks DynamoDB only), so the SDK's
// KMSClient is mocked with aws-sdk-client-mock: these tests pin the GenerateMac request the
// fingerprinter sends and how it reads (or refuses) the answer. The admin API's tests send the
// same requests over HTTP to a fake KMS (test/fixtures/fake-kms.ts).

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b6f1c9e-3d2a-4e5f-8a7b-1c2d3e4f5a6b';
const KEY_HEX = '5f0e8a6c1d2b3a4958677685a4b3c2d1';
const kms = mockClient(KMSClient);
/** What KMS would compute, with a stand-in secret: the HMAC key never leaves KMS. */
const hmac = (message: Uint8Array): Uint8Array => new Uint8Array(createHmac('sha256', 'kms-held-secret').update(message).digest());

describe('KmsKeyFingerprinter', () => {
  beforeEach(() => kms.reset());

  it('asks KMS for HMAC_SHA_256 of the key under the HMAC key and answers it as lowercase hex', async () => {
    kms.on(GenerateMacCommand).callsFake((input: { Message: Uint8Array }) => ({ Mac: hmac(input.Message), KeyId: KEY_ARN, MacAlgorithm: 'HMAC_SHA_256' }));
    const fingerprinter = new KmsKeyFingerprinter({ kms: new KMSClient({ region: 'eu-west-1' }), keyId: KEY_ARN });
    const fingerprint = await fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex'));

    assert.equal(fingerprint, Buffer.from(hmac(Buffer.from(KEY_HEX, 'hex'))).toString('hex'));
    assert.match(fingerprint, /^[0-9a-f]{64}$/);
    const calls = kms.commandCalls(GenerateMacCommand);
    assert.equal(calls.length, 1);
    const input = calls[0]!.args[0].input;
    assert.equal(input.KeyId, KEY_ARN);
    assert.equal(input.MacAlgorithm, 'HMAC_SHA_256');
    assert.equal(Buffer.from(input.Message ?? []).toString('hex'), KEY_HEX);
    // Equal keys meet in the index, different keys do not.
    assert.equal(await fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex')), fingerprint);
    assert.notEqual(await fingerprinter.fingerprint(Buffer.from(KEY_HEX.replace(/^5f/, '60'), 'hex')), fingerprint);
  });

  it('names the KMS error, never the key, and carries no cause', async () => {
    kms.on(GenerateMacCommand).rejects(Object.assign(new Error(`message ${KEY_HEX} refused`), { name: 'KMSInvalidStateException' }));
    const fingerprinter = new KmsKeyFingerprinter({ kms: new KMSClient({ region: 'eu-west-1' }), keyId: KEY_ARN });
    await assert.rejects(fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex')), (error: Error) => {
      assert.equal(error.message, 'KMS did not fingerprint the key: KMSInvalidStateException');
      assert.equal(error.cause, undefined);
      return true;
    });
  });

  it('refuses an answer that is not a 32-byte HMAC-SHA256', async () => {
    const fingerprinter = new KmsKeyFingerprinter({ kms: new KMSClient({ region: 'eu-west-1' }), keyId: KEY_ARN });
    kms.on(GenerateMacCommand).resolves({ Mac: new Uint8Array(20), MacAlgorithm: 'HMAC_SHA_256' });
    await assert.rejects(fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex')), /with 20 bytes, not the 32 of HMAC-SHA256/);
    kms.on(GenerateMacCommand).resolves({});
    await assert.rejects(fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex')), /with no bytes/);
  });

  it('takes anything that sends GenerateMac like a KMSClient', async () => {
    const sent: GenerateMacCommand[] = [];
    const fingerprinter = new KmsKeyFingerprinter({
      kms: { send: async (command) => (sent.push(command), { Mac: hmac(command.input.Message ?? new Uint8Array()), $metadata: {} }) },
      keyId: KEY_ARN,
    });
    assert.match(await fingerprinter.fingerprint(Buffer.from(KEY_HEX, 'hex')), /^[0-9a-f]{64}$/);
    assert.equal(sent[0]?.input.KeyId, KEY_ARN);
  });
});
