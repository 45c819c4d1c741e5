import { GenerateMacCommand, type GenerateMacCommandOutput } from '@aws-sdk/client-kms';
import type { KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';

/** What the fingerprinter needs of a KMSClient: sending GenerateMac. A KMSClient is one. */
export interface KmsMacClient {
  send(command: GenerateMacCommand): Promise<GenerateMacCommandOutput>;
}

export interface KmsKeyFingerprinterOptions {
  /** A KMSClient, or anything that sends GenerateMac like one (a test's mock). */
  readonly kms: KmsMacClient;
  /** ARN (or id, or alias) of the HMAC_256 KMS key with key usage GENERATE_VERIFY_MAC. */
  readonly keyId: string;
}

/** HMAC-SHA256 gives 32 bytes; anything else is not the MAC we asked for. */
const MAC_BYTES = 32;

/**
 * Key fingerprints on AWS: HMAC-SHA256 computed by KMS (GenerateMac) under an HMAC key that
 * never leaves KMS. The key plays the pepper's part (see keyFingerprint) without a secret to
 * store, copy or leak: whoever reads the table can test a guessed key only by calling KMS with
 * the rights the device writers have, and CloudTrail records every call.
 */
export class KmsKeyFingerprinter implements KeyFingerprinter {
  readonly #kms: KmsMacClient;
  readonly #keyId: string;

  constructor(options: KmsKeyFingerprinterOptions) {
    this.#kms = options.kms;
    this.#keyId = options.keyId;
  }

  async fingerprint(key: Uint8Array): Promise<string> {
    // On failure the error's name only, and no cause: the request held the key, and what a
    // client library keeps beside an error is not ours to vouch for.
    const outcome = await Promise.resolve()
      .then(() => this.#kms.send(new GenerateMacCommand({ KeyId: this.#keyId, MacAlgorithm: 'HMAC_SHA_256', Message: key })))
      .then(
        (output) => ({ output }),
        (error: unknown) => ({ failure: error instanceof Error ? error.name : 'unknown error' }),
      );
    if ('failure' in outcome) throw new Error(`KMS did not fingerprint the key: ${outcome.failure}`);
    const mac = outcome.output.Mac;
    if (mac === undefined || mac.length !== MAC_BYTES) throw new Error(`KMS answered GenerateMac with ${mac?.length ?? 'no'} bytes, not the ${MAC_BYTES} of HMAC-SHA256`);
    return Buffer.from(mac).toString('hex');
  }
}
