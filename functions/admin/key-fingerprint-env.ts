/**
 * The environment variable naming the KMS HMAC key the admin API fingerprints bootstrap PSKs
 * with (KmsKeyFingerprinter); plain data, so the stack sets it without loading the handler.
 */
export const KEY_FINGERPRINT_KEY_ENV = 'KEY_FINGERPRINT_KEY_ARN';
