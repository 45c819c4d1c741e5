import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KmsKeySealer, kmsEncryptionContext, type KmsEncrypt, type KmsEncryptInput } from '../../server/aws/kms-key-sealer.ts';
import { serverCredentialsIssuedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import { issuedEvents } from '../../shared/lifecycle/server-credentials.ts';

// KMS has no local stand-in (dynalite speaks DynamoDB only), and @aws-sdk/client-kms is not
// installed, so aws-sdk-client-mock has no KMSClient to mock: the sealer takes Encrypt as a
// function shaped like the SDK's command input and output, and these tests pin its requests.

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
});
