import assert from 'node:assert/strict';
import { isCodecError } from '../../shared/errors.ts';
import type { CodecErrorCode } from '../../shared/errors.ts';

/** Bytes from hex; whitespace and `# comments` to the end of a line are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/#.*$/gm, '').replace(/\s+/g, '');
  assert.match(digits, /^([0-9a-f]{2})*$/i, 'test vector hex');
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Asserts `action` throws a CodecError with `code` (and `offset`/`field` when given). */
export function assertCodecError(
  action: () => unknown,
  code: CodecErrorCode,
  where: { offset?: number; field?: string } = {},
): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isCodecError(error), `expected a CodecError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (where.offset !== undefined) assert.equal(error.offset, where.offset, error.message);
    if (where.field !== undefined) assert.equal(error.field, where.field, error.message);
    return true;
  });
}
