import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KMS_ENCRYPTION_CONTEXT_KEYS, KmsKeySealer, kmsEncrypt, kmsEncryptionContext, type KmsEncrypt, type KmsEncryptInput } from '../../server/aws/kms-key-sealer.ts';
import { serverCredentialsIssuedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import { issuedEvents } from '../../shared/lifecycle/server-credentials.ts';

// KMS has no local stand-in (dynalite speaks DynamoDB only) and a live AWS endpoint cannot run
// here. The sealer takes Encrypt as a function shaped like the SDK's command input and output,
// and the first tests pin its requests through that port; kmsEncrypt, the SDK's side of the
// port, is checked against KMSClient mocked with aws-sdk-client-mock. The uplink function's
// tests send the same requests over HTTP to a fake KMS (test/fixtures/fake-kms.ts).

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
process.env['AWS_REGION'] ??= 'eu-west-1';

const KEY_ID = 'alias/lwm2m-bs-server-credentials';
const KEY_HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const BLOB = Uint8Array.from([0x01, 0x02, 0x03, 0x00, 0xfe, 0xff, 0x80, 0x7f, 0x41]);

function recordingKms(output: () => Promise<{ CiphertextBlob?: Uint8Array }> = () => Promise.resolve({ CiphertextBlob: BLOB })) {
  const inputs: KmsEncryptInput[] = [];
  const encrypt: KmsEncrypt = (input) => {
    inputs.push(input);
    return output();
  };
  return { encrypt, inputs };
}

describe('KmsKeySealer', () => {
  it('encrypts the key under the configured KMS key, bound to the endpoint and Short Server ID', async () => {
    const kms = recordingKms();
    const sealed = await new KmsKeySealer({ encrypt: kms.encrypt, keyId: KEY_ID }).seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId: 101 });

    assert.equal(sealed, Buffer.from(BLOB).toString('base64'));
    assert.equal(kms.inputs.length, 1);
    const [input] = kms.inputs;
    assert.equal(input?.KeyId, KEY_ID);
    assert.equal(Buffer.from(input?.Plaintext ?? []).toString('hex'), KEY_HEX);
    assert.deepEqual(input?.EncryptionContext, { endpoint: 'urn:dev:7', shortServerId: '101' });
  });

  it('gives every account its own context, so a ciphertext does not decrypt as another account\u2019s', async () => {
    const kms = recordingKms();
    const sealer = new KmsKeySealer({ encrypt: kms.encrypt, keyId: KEY_ID });
    const key = Buffer.from(KEY_HEX, 'hex');
    await sealer.seal(key, { endpoint: 'urn:dev:7', shortServerId: 101 });
    await sealer.seal(key, { endpoint: 'urn:dev:7', shortServerId: 102 });
    await sealer.seal(key, { endpoint: 'urn:dev:8', shortServerId: 101 });
    const contexts = kms.inputs.map((input) => JSON.stringify(input.EncryptionContext));
    assert.equal(new Set(contexts).size, 3);
    assert.deepEqual(kms.inputs[1]?.EncryptionContext, kmsEncryptionContext({ endpoint: 'urn:dev:7', shortServerId: 102 }), 'the decrypting side rebuilds the same context');
  });

  it('names the account and the error, never the key, when KMS fails', async () => {
    const failure = Object.assign(new Error(`plaintext ${KEY_HEX} rejected`), { name: 'KMSInvalidStateException' });
    const sealer = new KmsKeySealer({ encrypt: recordingKms(() => Promise.reject(failure)).encrypt, keyId: KEY_ID });
    await assert.rejects(sealer.seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId: 101 }), (error: Error) => {
      assert.equal(error.message, 'KMS did not seal the key for Short Server ID 101 of urn:dev:7: KMSInvalidStateException');
      assert.equal(error.cause, undefined, 'the SDK error is not carried along');
      return true;
    });
    const throwing = new KmsKeySealer({ encrypt: () => { throw failure; }, keyId: KEY_ID });
    await assert.rejects(throwing.seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId: 101 }), (error: Error) => !error.message.includes(KEY_HEX) && /KMSInvalidStateException$/.test(error.message));
  });

  it('refuses an answer without a ciphertext', async () => {
    for (const answer of [{}, { CiphertextBlob: new Uint8Array(0) }]) {
      const sealer = new KmsKeySealer({ encrypt: recordingKms(() => Promise.resolve(answer)).encrypt, keyId: KEY_ID });
      await assert.rejects(sealer.seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId: 101 }), /returned no ciphertext/);
    }
  });

  it('makes ServerCredentialsIssued events that pass the bus schema and hold no key', async () => {
    const kms = recordingKms();
    const events = await issuedEvents('urn:dev:7', [{ shortServerId: 101, identity: 'urn:dev:7#s101-abc', secretKey: KEY_HEX }], new KmsKeySealer({ encrypt: kms.encrypt, keyId: KEY_ID }), '2026-03-01T12:00:00.000Z');
    assert.equal(events.length, 1);
    assert.deepEqual(serverCredentialsIssuedEventSchema.parse(events[0]), events[0]);
    assert.equal(events[0]?.secretKeyCiphertext, Buffer.from(BLOB).toString('base64'));
    assert.ok(!JSON.stringify(events).toLowerCase().includes(KEY_HEX));
    assert.deepEqual(kms.inputs[0]?.EncryptionContext, { endpoint: 'urn:dev:7', shortServerId: '101' });
  });

  it('names the context keys the IAM condition on kms:EncryptionContextKeys allows', () => {
    assert.deepEqual(KMS_ENCRYPTION_CONTEXT_KEYS, ['endpoint', 'shortServerId']);
  });
});

describe('kmsEncrypt (the SDK behind the port)', () => {
  it('makes one KMSClient at the first call, not before, and sends EncryptCommand with the input as given', async () => {
    const kms = mockClient(KMSClient);
    try {
      kms.on(EncryptCommand).resolves({ CiphertextBlob: BLOB, KeyId: KEY_ID, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      const made: KMSClient[] = [];
      const encrypt = kmsEncrypt({ wrap: (client) => (made.push(client), client) });
      assert.equal(made.length, 0, 'nothing made until a key is sealed');

      const sealer = new KmsKeySealer({ encrypt, keyId: KEY_ID });
      const sealed = await Promise.all([101, 102].map((shortServerId) => sealer.seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId })));
      assert.deepEqual(sealed, [Buffer.from(BLOB).toString('base64'), Buffer.from(BLOB).toString('base64')]);
      assert.equal(made.length, 1, 'one client, kept');
      const calls = kms.commandCalls(EncryptCommand);
      assert.deepEqual(calls.map((call) => call.thisValue), [made[0], made[0]]);
      const input = calls[0]!.args[0].input;
      assert.deepEqual({ ...input, Plaintext: Buffer.from(input.Plaintext ?? []).toString('hex') }, {
        KeyId: KEY_ID,
        Plaintext: KEY_HEX,
        EncryptionContext: { endpoint: 'urn:dev:7', shortServerId: '101' },
      });

      kms.on(EncryptCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
      await assert.rejects(sealer.seal(Buffer.from(KEY_HEX, 'hex'), { endpoint: 'urn:dev:7', shortServerId: 101 }), /: ThrottlingException$/);
    } finally {
      kms.restore();
    }
  });
});
