import { allStoredProfiles } from '../../shared/bootstrap/stored-profiles.ts';
import { CsvError } from 'csv-parse';
import { parse as parseCsv } from 'csv-parse/sync';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import {
  csvColumnFor,
  csvRecordToInput,
  DeviceImportValidator,
  fieldPath,
  ImportFileError,
  lowEntropyRejection,
  parseCsvHeader,
  parseJsonRow,
  type ImportFormat,
  type RejectedRow,
} from '../../shared/bootstrap/device-import.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { IMPORT_STORE_CONCURRENCY, writeImport } from '../../shared/bootstrap/import-writer.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import type { LowEntropyRow } from '../../shared/bootstrap/device-import.ts';
import type { KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';
import { ApiError, bodyText, mediaType, type ApiIssue, type HttpApiEvent } from './http.ts';

/** Media types of `POST /import` and the import format each means. */
export const IMPORT_MEDIA_TYPES: Readonly<Record<string, ImportFormat>> = {
  'application/json': 'json',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
  'text/csv': 'csv',
};

export interface ImportResult {
  readonly format: ImportFormat;
  readonly dryRun: boolean;
  readonly rows: number;
  readonly written: number;
  /**
   * Rows whose bootstrap key classified low entropy (reason codes and text, never keys), a key
   * being shared when another row or another stored device holds it. Imported all the same
   * (unless refuseLowEntropy, which refuses the body): their account is replaced at their first
   * bootstrap.
   */
  readonly lowEntropy: readonly LowEntropyRow[];
}

export interface ImportOptions {
  /** Validate only: nothing is written. */
  readonly dryRun: boolean;
  /**
   * `lwm2m-bs import --refuse-low-entropy`: a row whose bootstrap key classifies low entropy,
   * shared with a stored device included, refuses the whole body (422) like any bad row.
   */
  readonly refuseLowEntropy: boolean;
}

/**
 * `lwm2m-bs import` over HTTP: every row is judged (DeviceImportValidator, as the CLI does)
 * before the first write, one bad row refuses the whole body with every problem listed (422),
 * and a store failure while writing puts back what was there before (503).
 */
export async function importDevices(store: BootstrapStore, event: HttpApiEvent, options: ImportOptions, fingerprinter: KeyFingerprinter): Promise<ImportResult> {
  const { dryRun, refuseLowEntropy } = options;
  const type = mediaType(event);
  const format = type === undefined ? undefined : IMPORT_MEDIA_TYPES[type];
  if (format === undefined) {
    throw new ApiError(415, 'unsupported-media-type', `an import is sent as ${Object.keys(IMPORT_MEDIA_TYPES).join(', ')}`);
  }
  const validator = new DeviceImportValidator({
    profiles: new Map((await allStoredProfiles(store)).map((profile) => [profile.name, profile])),
    check: checkBootstrapConfiguration,
    csv: format === 'csv',
    fingerprinter,
  });
  try {
    readRows(format, bodyText(event), validator);
  } catch (error) {
    if (error instanceof ImportFileError) throw new ApiError(400, 'bad-request', `${error.message}; nothing written`);
    throw error;
  }
  if (validator.rows === 0) throw new ApiError(400, 'bad-request', 'the import has no rows; nothing written');
  await validator.checkStoredPskIdentities(store, IMPORT_STORE_CONCURRENCY);
  // Refusing on keys, the keys are classified first, so one answer lists every problem as the
  // CLI's report does; otherwise a rejected body is not worth a fingerprint per row.
  if (refuseLowEntropy) await validator.classifyKeys(store, IMPORT_STORE_CONCURRENCY);
  const refusedKeys = refuseLowEntropy ? validator.lowEntropy.map((low) => lowEntropyIssue(low, format)) : [];
  if (validator.rejected.length > 0 || refusedKeys.length > 0) {
    const rejectedRows = validator.rejectedRows + refusedKeys.length;
    // Stable: a row's own rejections keep their order.
    const issues = [...validator.rejected.map(rowIssue), ...refusedKeys].sort((a, b) => a.row - b.row);
    throw new ApiError(422, 'import-rejected', `${rejectedRows} of ${validator.rows} rows rejected; nothing written`, issues);
  }
  if (!refuseLowEntropy) await validator.classifyKeys(store, IMPORT_STORE_CONCURRENCY);
  const lowEntropy = validator.lowEntropy;
  if (dryRun) return { format, dryRun, rows: validator.rows, written: 0, lowEntropy };
  await writeAllOrNothing(store, validator.devices);
  return { format, dryRun, rows: validator.rows, written: validator.devices.length, lowEntropy };
}

type RowIssue = ApiIssue & { readonly row: number };

function rowIssue(rejection: RejectedRow): RowIssue {
  return {
    field: rejection.field,
    message: rejection.reason,
    row: rejection.row,
    ...(rejection.line !== undefined && { line: rejection.line }),
    ...(rejection.endpoint !== undefined && { endpoint: rejection.endpoint }),
  };
}

/**
 * A low-entropy row refused, on its key field as DeviceImportValidator names it, with the
 * reasons as the 200 answer's `lowEntropy` lists them: codes and text, never the key.
 */
function lowEntropyIssue(low: LowEntropyRow, format: ImportFormat): RowIssue {
  const path = ['bootstrapCredentials', 'secretKey'];
  return {
    field: (format === 'csv' ? csvColumnFor(path) : undefined) ?? fieldPath(path),
    message: lowEntropyRejection(low.reasons),
    row: low.row,
    ...(low.line !== undefined && { line: low.line }),
    endpoint: low.endpoint,
    reasons: low.reasons,
  };
}


function readRows(format: ImportFormat, text: string, validator: DeviceImportValidator): void {
  if (format === 'json') {
    const parsed = parseJsonRow(text);
    if ('reason' in parsed) throw new ImportFileError(`the body is ${parsed.reason}; send application/x-ndjson for one entry per line`);
    if (!Array.isArray(parsed.value)) throw new ImportFileError('a JSON import is an array of device entries');
    (parsed.value as unknown[]).forEach((input, index) => validator.add(input, { row: index + 1 }));
    return;
  }
  if (format === 'jsonl') {
    let row = 0;
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '') return;
      row += 1;
      const parsed = parseJsonRow(line);
      const position = { row, line: index + 1 };
      if ('reason' in parsed) validator.addUnreadable(position, parsed.reason);
      else validator.add(parsed.value, position);
    });
    return;
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (error) {
    // csv-parse's messages quote the offending field; keep its code and line only.
    if (error instanceof CsvError) throw new ImportFileError(`malformed CSV (${error.code})`, typeof error['lines'] === 'number' ? error['lines'] : undefined);
    throw error;
  }
  const [header, ...rows] = records;
  if (header === undefined) throw new ImportFileError('the body is empty; a CSV import needs a header row');
  const layout = parseCsvHeader(header.record);
  rows.forEach(({ record, info }, index) => {
    const position = { row: index + 1, line: info.lines };
    const result = csvRecordToInput(layout, record);
    if ('reason' in result) validator.addUnreadable(position, result.reason, result.endpoint);
    else validator.add(result.input, position);
  });
}

/** A store failure while writing is answered 503, once writeImport has put back what was there. */
async function writeAllOrNothing(store: BootstrapStore, devices: readonly DeviceEntry[]): Promise<void> {
  const report = await writeImport(store, devices);
  if (!report.rolledBack) return;
  const first = report.rejected[0];
  const failure =
    report.storeError !== undefined || first === undefined
      ? `the store failed while writing (${report.storeError ?? 'unknown error'})`
      : `the store refused ${report.rejected.length} devices (first: ${first.endpoint}: ${first.reason})`;
  const notRestored = report.notRestored ?? [];
  throw new ApiError(
    503,
    'store-failed',
    notRestored.length === 0 ? `${failure}; the import was rolled back, nothing written` : `${failure}; rolling back failed for ${notRestored.length} devices`,
    undefined,
    notRestored.length === 0 ? undefined : { notRestored },
  );
}
