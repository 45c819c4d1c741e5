import { z } from 'zod';
import type { Item } from './item-codec.ts';
import { PARTITION_KEY, SORT_KEY } from './table.ts';

/** A listing cursor that is not one this adapter handed out. */
export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor: pass back the cursor of the previous page unchanged');
    this.name = 'InvalidCursorError';
  }
}

const stringValue = z.strictObject({ S: z.string().min(1).max(1024) });
const tableKey = z.strictObject({ [PARTITION_KEY]: stringValue, [SORT_KEY]: stringValue });

/** The opaque cursor: the table key to continue after, as base64url JSON. */
export function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Only a table key gets through: a cursor is sent as a Scan's ExclusiveStartKey. */
export function decodeCursor(cursor: string): Item {
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(cursor)) throw new InvalidCursorError();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const parsed = tableKey.safeParse(value);
  if (!parsed.success) throw new InvalidCursorError();
  return parsed.data;
}
