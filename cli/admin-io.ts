import { readFile } from 'node:fs/promises';
import type { ConfigurationIssue } from '../shared/bootstrap/configuration-error.ts';
import { resolveAdminApiTarget, type AdminApiClient, type AdminApiConnector } from './admin-api-client.ts';
import type { CommandIO } from './commands/codec.ts';
import { InputError, UsageError } from './usage.ts';

/** The operator commands' output stream, their error stream (progress only) and stdin. */
export type AdminIO = CommandIO & { readonly stderr?: (text: string) => void };

/** Options every command that opens the store takes: a data directory, or a deployed stack's admin API. */
export const STORE_OPTIONS = {
  'data-dir': { type: 'string', short: 'd' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** The admin API client when `--endpoint` or `$LWM2M_BS_ENDPOINT` says to work against a deployed stack. */
export function remoteAdminApi(
  values: { readonly 'data-dir'?: string | undefined; readonly endpoint?: string | undefined; readonly region?: string | undefined },
  connect: AdminApiConnector,
  env: NodeJS.ProcessEnv = process.env,
): AdminApiClient | undefined {
  const target = resolveAdminApiTarget({ endpoint: values.endpoint, region: values.region, dataDir: values['data-dir'] }, env);
  return target === undefined ? undefined : connect(target);
}

export const SHOW_SECRETS_OPTION = { 'show-secrets': { type: 'boolean', default: false } } as const;

export function onePositional(command: string, positionals: readonly string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one ${what}, got ${positionals.length}`);
  return positionals[0]!;
}

/** Reads a JSON document from a file or, for `-`, stdin. Parse errors name the position only: the text may hold keys. */
export async function readJsonDocument(source: string, io: CommandIO): Promise<unknown> {
  let text: string;
  try {
    text = source === '-' ? await io.readStdin() : await readFile(source, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new InputError(`${source === '-' ? 'stdin' : source} is not valid JSON${position === undefined ? '' : ` (at character ${Number(position) + 1})`}`);
  }
}

/** Every problem of a document on the one line main prints. */
export function invalidDocument(kind: string, issues: readonly ConfigurationIssue[]): InputError {
  const list = issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  return new InputError(`invalid ${kind} (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}): ${list}`);
}

export function printJson(io: CommandIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
