import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CsvError, parse as parseCsv } from 'csv-parse';
import { checkBootstrapConfiguration } from '../../shared/bootstrap/checker.ts';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import {
  classifyBatchKeys,
  csvColumnFor,
  csvRecordToInput,
  DeviceImportValidator,
  IMPORT_FORMATS,
  ImportFileError,
  importFormatForFile,
  parseCsvHeader,
  parseJsonRow,
  type CsvLayout,
  type ImportFormat,
  type LowEntropyRow,
  type PositionedDevice,
  type RejectedRow,
  type RowPosition,
} from '../../shared/bootstrap/device-import.ts';
import { IMPORT_STORE_CONCURRENCY, ImportSnapshotError, writeImport, type ImportWriteReport } from '../../shared/bootstrap/import-writer.ts';
import type { ApiIssue } from '../../functions/admin/http.ts';
import { AdminApiError, connectAdminApi, type AdminApiClient, type AdminApiConnector } from '../admin-api-client.ts';
import { onePositional, printJson, remoteAdminApi, STORE_OPTIONS, type AdminIO } from '../admin-io.ts';
import { openDataDirStore, withFingerprintedStore, type StoreOpener } from '../data-dir.ts';
import { InputError, UsageError } from '../usage.ts';
import { allStoredProfiles } from '../../shared/bootstrap/stored-profiles.ts';

export type ImportIO = AdminIO & { readonly stderrIsTTY?: boolean };

/** Endpoints named in the one-line message when a rollback leaves some behind; the report has all. */
const NAMED_UNRESTORED = 10;
/** Rejections printed to the terminal; `--report` holds them all. */
const PRINTED_REJECTIONS = 100;

/** What `--report` writes and `--json` prints: the rows judged, then what writing them did. */
export interface ImportReport extends ImportWriteReport {
  readonly file: string;
  readonly format: ImportFormat;
  readonly dryRun: boolean;
  readonly rows: number;
  readonly rejectedRows: number;
  /**
   * Devices whose bootstrap key classified low entropy, with the reasons (codes and text, never
   * keys). Imported all the same unless `--refuse-low-entropy`: their account is replaced at
   * their first bootstrap. A key is shared when another row or another stored device holds it
   * (by fingerprint), through the admin API (`--endpoint`) too.
   */
  readonly lowEntropy: readonly LowEntropyRow[];
}

/**
 * `lwm2m-bs import <file>`: every row is validated before the first write, and one bad row
 * means nothing is written; writeImport rolls back by hand when the store refuses or fails a
 * write (the store has no transactions).
 */
export async function importCommand(args: string[], io: ImportIO, open: StoreOpener = openDataDirStore, connect: AdminApiConnector = connectAdminApi): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...STORE_OPTIONS,
      format: { type: 'string', short: 'f' },
      'dry-run': { type: 'boolean', default: false },
      report: { type: 'string' },
      progress: { type: 'boolean', default: false },
      'refuse-low-entropy': { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const file = onePositional('import', positionals, 'file (or - for stdin)');
  const format = chooseFormat(file, values.format);
  const progress = new Progress(values.progress || (io.stderrIsTTY ?? process.stderr.isTTY === true), io.stderr);
  const api = remoteAdminApi(values, connect);

  const refuseLowEntropy = values['refuse-low-entropy'];
  const report = api !== undefined ? await remoteImport(api, { file, format, dryRun: values['dry-run'], refuseLowEntropy }, io, progress) : await withFingerprintedStore(open, values['data-dir'], async (store, fingerprinter): Promise<ImportReport> => {
    const validator = new DeviceImportValidator({
      profiles: new Map((await allStoredProfiles(store)).map((profile) => [profile.name, profile])),
      check: checkBootstrapConfiguration,
      csv: format === 'csv',
      refuseLowEntropy,
      fingerprinter,
    });
    try {
      for await (const row of readRows(format, file, io)) {
        if ('reason' in row) validator.addUnreadable(row.position, row.reason, row.endpoint);
        else validator.add(row.input, row.position);
        progress.tick('validated', validator.rows);
      }
    } catch (error) {
      if (error instanceof ImportFileError) throw new InputError(`${file}: ${error.message}; nothing written`);
      throw error;
    }
    await validator.checkStoredPskIdentities(store, IMPORT_STORE_CONCURRENCY);
    await validator.classifyKeys(store, IMPORT_STORE_CONCURRENCY);
    progress.done('validated', validator.rows);
    const base = {
      file,
      format,
      dryRun: values['dry-run'],
      rows: validator.rows,
      rejectedRows: validator.rejectedRows,
      rolledBack: false,
      lowEntropy: validator.lowEntropy,
    };
    if (validator.rejected.length > 0 || values['dry-run']) return { ...base, written: 0, rejected: validator.rejected };
    try {
      const outcome = await writeImport(store, validator.devices, {
        progress: { chunkWritten: (count) => progress.tick('written', count, true), stopped: (count) => progress.done('written', count) },
      });
      return { ...base, ...outcome };
    } catch (error) {
      if (error instanceof ImportSnapshotError) throw new InputError(error.message);
      throw error;
    }
  });

  if (values.report !== undefined) await writeFile(values.report, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) printJson(io, report);
  else printReport(io, report, values.report);
  if (report.rejectedRows > 0) throw new InputError(`import refused: ${report.rejectedRows} of ${report.rows} rows rejected; nothing written`);
  if (report.rolledBack) throw new InputError(storeFailureMessage(report));
}

/**
 * With `--endpoint`: the file is read here with the same readers, and its rows go to the admin
 * API as one JSON array (one request, all or nothing on the server). Rows that could not be
 * read are rejected here; the rest then go as a dry run, so the report still lists every
 * problem. `--refuse-low-entropy` goes along (refuseLowEntropy): the server refuses the keys
 * its stored devices hold too, as a local import does. The server numbers rows in the array it
 * got; its rejections are put back on the file's lines and, for CSV, its field paths back on
 * the columns, so the report reads as a local import's.
 */
async function remoteImport(
  api: AdminApiClient,
  job: { file: string; format: ImportFormat; dryRun: boolean; refuseLowEntropy: boolean },
  io: ImportIO,
  progress: Progress,
): Promise<ImportReport> {
  const { file, format, dryRun, refuseLowEntropy } = job;
  const entries: unknown[] = [];
  const sent: RowPosition[] = [];
  const unreadable: RejectedRow[] = [];
  let rows = 0;
  try {
    for await (const row of readRows(format, file, io)) {
      rows += 1;
      if ('reason' in row) unreadable.push({ ...row.position, ...(row.endpoint !== undefined && { endpoint: row.endpoint }), field: '(row)', reason: row.reason });
      else {
        entries.push(row.input);
        sent.push(row.position);
      }
      progress.tick('read', rows);
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw new InputError(`${file}: ${error.message}; nothing written`);
    throw error;
  }
  progress.done('read', rows);
  // The keys are classified here too, from the rows as read, for a server whose answer does not
  // list them. --refuse-low-entropy is the server's to apply: only it sees the stored devices.
  const parsed = entries.flatMap((entry, index): PositionedDevice[] => {
    const device = deviceEntrySchema.safeParse(entry);
    return device.success ? [{ device: device.data, position: sent[index]! }] : [];
  });
  const lowEntropy = classifyBatchKeys(parsed);
  const refused = new Set(unreadable.map((rejection) => rejection.row));
  // Key for key as the local report, so --json and --report read the same.
  const report = (written: number, rejected: readonly RejectedRow[], low: readonly LowEntropyRow[] = lowEntropy): ImportReport => ({
    file,
    format,
    dryRun,
    rows,
    rejectedRows: refused.size,
    rolledBack: false,
    lowEntropy: refuseLowEntropy ? [] : low,
    written,
    rejected,
  });
  if (entries.length === 0) return report(0, unreadable);
  try {
    const result = await api.importDevices(entries, { dryRun: dryRun || unreadable.length > 0, refuseLowEntropy });
    // The server compares with its stored devices too (an older stack answers without the list);
    // its rows are those of the array sent, put back on the file's.
    const remoteLow = (result as { lowEntropy?: readonly LowEntropyRow[] }).lowEntropy;
    return report(result.written, unreadable, remoteLow?.map((low) => ({ ...(sent[low.row - 1] ?? { row: 0 }), endpoint: low.endpoint, reasons: low.reasons })));
  } catch (error) {
    if (!(error instanceof AdminApiError) || error.code !== 'import-rejected') throw error;
    const remote = error.issues.map((issue) => localRejection(issue, sent, format === 'csv'));
    for (const rejection of remote) refused.add(rejection.row);
    // Stable: a row's own rejections keep the server's order.
    return report(0, [...unreadable, ...remote].sort((a, b) => a.row - b.row));
  }
}

/** A server rejection (row `n` of the array sent) as the rejection of the file's row it came from. */
function localRejection(issue: ApiIssue, sent: readonly RowPosition[], csv: boolean): RejectedRow {
  const at = (row: unknown): RowPosition | undefined => (typeof row === 'number' ? sent[row - 1] : undefined);
  const position = at(issue['row']) ?? { row: 0 };
  const endpoint = typeof issue['endpoint'] === 'string' ? issue['endpoint'] : undefined;
  // "endpoint already on row 3", "same bootstrap PSK identity as row 3 (...)": the server's rows.
  const reason = issue.message.replace(/\b(on|as) row (\d+)\b/g, (text, word: string, row: string) => {
    const earlier = at(Number(row));
    return earlier === undefined ? text : `${word} ${earlier.line === undefined ? `row ${earlier.row}` : `line ${earlier.line}`}`;
  });
  return { ...position, ...(endpoint !== undefined && { endpoint }), field: csv ? csvField(issue.field) : issue.field, reason };
}

/** The column a CSV report names for an entry field, as DeviceImportValidator does for a local CSV import. */
function csvField(field: string): string {
  const path = field.startsWith('device.') ? field.slice('device.'.length) : field;
  return csvColumnFor(path.split('.')) ?? field;
}

function storeFailureMessage(report: ImportReport): string {
  const failure =
    report.storeError === undefined ? `the store refused ${report.rejected.length} of ${report.rows} devices` : `the store failed while writing (${report.storeError})`;
  const unrestored = report.notRestored ?? [];
  if (unrestored.length === 0) return `${failure}; the import was rolled back, nothing written`;
  const named = unrestored.slice(0, NAMED_UNRESTORED).join(', ');
  const more = unrestored.length > NAMED_UNRESTORED ? ` and ${unrestored.length - NAMED_UNRESTORED} more` : '';
  return `${failure}; rolling back failed for ${unrestored.length} devices (${named}${more}), which may hold the imported configuration`;
}

export function chooseFormat(file: string, flag: string | undefined): ImportFormat {
  if (flag !== undefined) {
    if (!(IMPORT_FORMATS as readonly string[]).includes(flag)) throw new UsageError(`--format takes ${IMPORT_FORMATS.join(', ')}; got "${flag}"`);
    return flag as ImportFormat;
  }
  const guessed = file === '-' ? undefined : importFormatForFile(file);
  if (guessed === undefined) throw new UsageError(`cannot tell the format of ${file === '-' ? 'stdin' : file}; give --format ${IMPORT_FORMATS.join('|')}`);
  return guessed;
}

/** One row of a device file: the entry input, or why it could not be read. */
export type Row =
  | { readonly input: unknown; readonly position: RowPosition }
  | { readonly reason: string; readonly endpoint?: string; readonly position: RowPosition };

/** The rows of a device file in one of the import formats (`-` is stdin), one at a time; a broken file throws ImportFileError. */
export async function* readRows(format: ImportFormat, file: string, io: ImportIO): AsyncGenerator<Row> {
  const source = await openSource(file, io);
  if (format === 'csv') yield* csvRows(source);
  else if (format === 'jsonl') yield* jsonLinesRows(source);
  else yield* jsonArrayRows(source);
}

async function openSource(file: string, io: ImportIO): Promise<Readable> {
  if (file === '-') return Readable.from([await io.readStdin()]);
  // Opened first, so a missing file is bad input rather than an error event mid-stream.
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return handle.createReadStream({ encoding: 'utf8' });
}

async function* csvRows(source: Readable): AsyncGenerator<Row> {
  // Field counts are checked per row (csvRecordToInput), so one short row is a rejection, not the end of the parse.
  const parser = source.pipe(parseCsv({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }));
  let layout: CsvLayout | undefined;
  let row = 0;
  try {
    for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (layout === undefined) {
        layout = parseCsvHeader(record.record);
        continue;
      }
      row += 1;
      const position = { row, line: record.info.lines };
      const result = csvRecordToInput(layout, record.record);
      yield 'reason' in result ? { ...result, position } : { input: result.input, position };
    }
  } catch (error) {
    // csv-parse's messages quote the offending field; keep its code and line only.
    if (error instanceof CsvError) throw new ImportFileError(`malformed CSV (${error.code})`, typeof error['lines'] === 'number' ? error['lines'] : undefined);
    throw error;
  }
  if (layout === undefined) throw new ImportFileError('the file is empty; a CSV import needs a header row');
}

async function* jsonLinesRows(source: Readable): AsyncGenerator<Row> {
  let line = 0;
  let row = 0;
  for await (const text of createInterface({ input: source, crlfDelay: Infinity })) {
    line += 1;
    if (text.trim() === '') continue;
    row += 1;
    const parsed = parseJsonRow(text);
    yield 'reason' in parsed ? { reason: parsed.reason, position: { row, line } } : { input: parsed.value, position: { row, line } };
  }
}

async function* jsonArrayRows(source: Readable): AsyncGenerator<Row> {
  let text = '';
  for await (const chunk of source) text += String(chunk);
  const parsed = parseJsonRow(text);
  if ('reason' in parsed) throw new ImportFileError(`${parsed.reason}; use --format jsonl for one entry per line`);
  if (!Array.isArray(parsed.value)) throw new ImportFileError('a JSON import is an array of device entries');
  let row = 0;
  for (const input of parsed.value as unknown[]) {
    row += 1;
    yield { input, position: { row } };
  }
}

function printReport(io: ImportIO, report: ImportReport, reportFile: string | undefined): void {
  if (report.storeError !== undefined) {
    io.stdout(`the store failed after validation: ${report.storeError}\n`);
    return;
  }
  if (report.rejected.length === 0) {
    io.stdout(report.dryRun ? `${devices(report.rows)} valid; nothing written (--dry-run)\n` : `imported ${devices(report.written)} from ${report.file}\n`);
    printLowEntropy(io, report, reportFile);
    return;
  }
  io.stdout(`${report.rejected.length} problems in ${report.rejectedRows || report.rejected.length} rows:\n`);
  for (const rejection of report.rejected.slice(0, PRINTED_REJECTIONS)) {
    const where = rejection.line === undefined ? `row ${rejection.row}` : `line ${rejection.line}`;
    io.stdout(`  ${where.padEnd(11)} ${(rejection.endpoint ?? '-').padEnd(24)} ${rejection.field}: ${rejection.reason}\n`);
  }
  const more = report.rejected.length - PRINTED_REJECTIONS;
  if (more > 0) io.stdout(`  ... and ${more} more${reportFile === undefined ? ' (--report <file> writes them all)' : ` (all in ${reportFile})`}\n`);
}

/** Low-entropy devices by reason code; their keys are replaced at the next bootstrap. */
function printLowEntropy(io: ImportIO, report: ImportReport, reportFile: string | undefined): void {
  if (report.lowEntropy.length === 0) return;
  io.stdout(`${devices(report.lowEntropy.length)} with a low-entropy bootstrap key, to be replaced at their next bootstrap (--refuse-low-entropy refuses them):\n`);
  for (const low of report.lowEntropy.slice(0, PRINTED_REJECTIONS)) {
    const where = low.line === undefined ? `row ${low.row}` : `line ${low.line}`;
    io.stdout(`  ${where.padEnd(11)} ${low.endpoint.padEnd(24)} ${low.reasons.map((reason) => reason.code).join(', ')}\n`);
  }
  const more = report.lowEntropy.length - PRINTED_REJECTIONS;
  if (more > 0) io.stdout(`  ... and ${more} more${reportFile === undefined ? ' (--report <file> lists them all)' : ` (all in ${reportFile})`}\n`);
}

function devices(count: number): string {
  return count === 1 ? '1 device' : `${count} devices`;
}

/** Row counts on stderr, every 1000 rows or once a second, for files long enough to wonder about. */
class Progress {
  readonly #enabled: boolean;
  readonly #write: ((text: string) => void) | undefined;
  #last = Date.now();
  #printed = false;

  constructor(enabled: boolean, write: ((text: string) => void) | undefined) {
    this.#enabled = enabled;
    this.#write = write;
  }

  tick(what: string, count: number, always = false): void {
    if (!this.#enabled || this.#write === undefined) return;
    const now = Date.now();
    if (!always && count % 1000 !== 0 && now - this.#last < 1000) return;
    this.#last = now;
    this.#printed = true;
    this.#write(`lwm2m-bs: ${what} ${count} rows\n`);
  }

  done(what: string, count: number): void {
    if (this.#printed && this.#write !== undefined) this.#write(`lwm2m-bs: ${what} ${count} rows, done\n`);
    this.#printed = false;
  }
}
