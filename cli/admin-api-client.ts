import type { FactoryExportAnswer, SmartcardExportAnswer } from '../functions/admin/documents.ts';
import type { ApiIssue } from '../functions/admin/http.ts';
import type { ImportResult } from '../functions/admin/import.ts';
import type { DeviceEntry, DeviceStatus } from '../shared/bootstrap/device.ts';
import type { Profile } from '../shared/bootstrap/profile.ts';
import type { LowEntropyReason } from '../shared/lifecycle/key-entropy.ts';
import { defaultCredentials, signRequest, type CredentialSource } from './sigv4.ts';
import { InputError, UsageError } from './usage.ts';

/**
 * The deployed admin API (functions/admin-api.ts behind API Gateway with IAM authorization),
 * one method per route, every request signed with SigV4 for `execute-api`. Failures are
 * AdminApiError, an InputError: main prints one line and exits 1. Nothing a request sent and
 * no header is ever put into an error, so keys and credentials cannot reach the terminal.
 */

export interface AdminApiTarget {
  /** The API's base URL, without a trailing slash; may carry a stage path (`/prod`). */
  readonly endpoint: URL;
  readonly region: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

export type ReportedStatus = DeviceStatus & { readonly contentFormatName?: string };

export interface DeviceStatusAnswer {
  readonly endpoint: string;
  readonly status: ReportedStatus | null;
}

/** `PUT /devices/{endpoint}`'s answer: the reasons (never the key) when the stored key is low entropy. */
export interface StoredDevice {
  readonly stored: 'device';
  readonly endpoint: string;
  readonly profile: string;
  readonly lowEntropy?: readonly LowEntropyReason[];
}

/** Lambda refuses a synchronous request body over 6 MB; refusing before sending says why. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

const REQUEST_TIMEOUT_MS = 60_000;

/** An answer other than success, with the server's error code and issues when it sent them. */
export class AdminApiError extends InputError {
  readonly status: number;
  readonly code: string | undefined;
  readonly issues: readonly ApiIssue[];
  /** The server's message alone, before issues or the status were added for the one line. */
  readonly serverMessage: string;

  constructor(status: number, code: string | undefined, serverMessage: string, issues: readonly ApiIssue[]) {
    super(describeFailure(status, serverMessage, issues));
    this.name = 'AdminApiError';
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.serverMessage = serverMessage;
  }
}

/** Refusals of what was sent read as the local command's; anything else says the status. */
function describeFailure(status: number, message: string, issues: readonly ApiIssue[]): string {
  if (status === 400 || status === 404 || status === 409 || status === 422) {
    if (issues.length === 0) return message;
    return `${message} (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}): ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`;
  }
  return `the admin API answered ${status}: ${message}`;
}

export interface AdminApiClientOptions extends AdminApiTarget {
  /** Defaults to the AWS default credential chain, loaded on the first request. */
  readonly credentials?: CredentialSource;
}

type Query = Readonly<Record<string, string | boolean | undefined>>;

export class AdminApiClient {
  readonly #base: URL;
  readonly #region: string;
  #credentials: CredentialSource | undefined;

  constructor(options: AdminApiClientOptions) {
    this.#base = options.endpoint;
    this.#region = options.region;
    this.#credentials = options.credentials;
  }

  listProfiles(options: { cursor?: string; showSecrets?: boolean } = {}): Promise<Page<Profile>> {
    return this.#call('GET', '/profiles', { cursor: options.cursor, showSecrets: options.showSecrets });
  }

  getProfile(name: string, options: { showSecrets?: boolean } = {}): Promise<Profile> {
    return this.#call('GET', `/profiles/${segment(name)}`, { showSecrets: options.showSecrets });
  }

  putProfile(name: string, document: unknown): Promise<{ stored: 'profile'; name: string }> {
    return this.#call('PUT', `/profiles/${segment(name)}`, {}, JSON.stringify(document));
  }

  deleteProfile(name: string): Promise<{ deleted: 'profile'; name: string }> {
    return this.#call('DELETE', `/profiles/${segment(name)}`);
  }

  listDevices(options: { cursor?: string; profile?: string; showSecrets?: boolean } = {}): Promise<Page<DeviceEntry>> {
    return this.#call('GET', '/devices', { cursor: options.cursor, profile: options.profile, showSecrets: options.showSecrets });
  }

  getDevice(endpoint: string, options: { showSecrets?: boolean } = {}): Promise<DeviceEntry> {
    return this.#call('GET', `/devices/${segment(endpoint)}`, { showSecrets: options.showSecrets });
  }

  /** `lowEntropy` is there when the stored bootstrap key classifies low, another stored device holding it included. */
  putDevice(endpoint: string, document: unknown): Promise<StoredDevice> {
    return this.#call('PUT', `/devices/${segment(endpoint)}`, {}, JSON.stringify(document));
  }

  deleteDevice(endpoint: string): Promise<{ deleted: 'device'; endpoint: string }> {
    return this.#call('DELETE', `/devices/${segment(endpoint)}`);
  }

  /**
   * One request, all or nothing: the server refuses every row (422, issues by `row`) when one is
   * bad, and with `refuseLowEntropy` when one has a low-entropy bootstrap key (its issue on the
   * key field, with `reasons`), shared with a stored device included.
   */
  importDevices(rows: readonly unknown[], options: { dryRun?: boolean; refuseLowEntropy?: boolean } = {}): Promise<ImportResult> {
    const body = JSON.stringify(rows);
    const size = Buffer.byteLength(body);
    if (size > MAX_REQUEST_BYTES) {
      throw new InputError(`the import is ${(size / 1024 / 1024).toFixed(1)} MB as JSON; the admin API takes at most 6 MB per request: split the file`);
    }
    return this.#call('POST', '/import', { dryRun: options.dryRun, refuseLowEntropy: options.refuseLowEntropy }, body);
  }

  getDeviceStatus(endpoint: string): Promise<DeviceStatusAnswer> {
    return this.#call('GET', `/devices/${segment(endpoint)}/status`);
  }

  /** The device's factory bootstrap information, files as base64; keys only with `includeKeys`. */
  getFactoryExport(endpoint: string, options: { includeKeys?: boolean } = {}): Promise<FactoryExportAnswer> {
    return this.#call('GET', `/devices/${segment(endpoint)}/factory`, { includeKeys: options.includeKeys });
  }

  /** The device's UICC files, keys included; with `generateScp03Keys` the server makes and stores keys for a device without. */
  exportSmartcard(endpoint: string, options: { generateScp03Keys?: boolean } = {}): Promise<SmartcardExportAnswer> {
    const body = { includeKeys: true, ...(options.generateScp03Keys === true && { generateScp03Keys: true }) };
    return this.#call('POST', `/devices/${segment(endpoint)}/smartcard`, {}, JSON.stringify(body));
  }

  /** JSON out, JSON in; the server is ours, so a success body is taken as the route's documented shape. */
  async #call<T>(method: string, path: string, query: Query = {}, body?: string): Promise<T> {
    const url = new URL(this.#base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== false) url.searchParams.set(name, String(value));
    const headers = await signRequest(
      { method, url, headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body }) },
      { region: this.#region, credentials: await this.#credentialSource() },
    ).catch((error: unknown) => {
      // The chain's messages name the providers tried, never a key.
      throw new InputError(`no AWS credentials to sign the admin API request (${error instanceof Error ? firstLine(error.message) : 'unknown error'})`);
    });
    delete headers['host'];
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(body !== undefined && { body }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      throw new InputError(`cannot reach the admin API at ${url.origin} (${networkReason(error)})`);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok) {
      if (parsed === undefined) throw new AdminApiError(response.status, undefined, 'the answer is not JSON', []);
      return parsed as T;
    }
    throw failure(response.status, response.statusText, parsed);
  }

  async #credentialSource(): Promise<CredentialSource> {
    this.#credentials ??= await defaultCredentials();
    return this.#credentials;
  }
}

/** `{ error: { code, message, issues? } }` from the function; `{ message }` from API Gateway itself (403, 429, ...). */
function failure(status: number, statusText: string, body: unknown): AdminApiError {
  const error = field(body, 'error');
  const message = field(error, 'message') ?? field(body, 'message') ?? field(body, 'Message');
  const code = field(error, 'code');
  const issues = field(error, 'issues');
  return new AdminApiError(
    status,
    typeof code === 'string' ? code : undefined,
    typeof message === 'string' && message.trim() !== '' ? firstLine(message) : statusText || 'no reason given',
    Array.isArray(issues) ? issues.filter((issue): issue is ApiIssue => typeof field(issue, 'field') === 'string' && typeof field(issue, 'message') === 'string') : [],
  );
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** API Gateway's signature-mismatch message goes on with the canonical request; the first line says it. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer in ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return firstLine(cause.message);
  return error instanceof Error ? firstLine(error.message) : 'network error';
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/** Matches `abc123.execute-api.eu-west-1.amazonaws.com` (and `.amazonaws.com.cn`). */
const EXECUTE_API_HOST = /\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/**
 * The deployed API to use, if any: `--endpoint` or `$LWM2M_BS_ENDPOINT`, unless `--data-dir`
 * names a local directory. The region is `--region`, else the one in an execute-api host name,
 * else `$AWS_REGION` / `$AWS_DEFAULT_REGION`. Plain http only to this machine (tests, a local
 * stand-in): answers carry keys when `--show-secrets` is given.
 */
export function resolveAdminApiTarget(
  flags: { readonly endpoint?: string | undefined; readonly region?: string | undefined; readonly dataDir?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): AdminApiTarget | undefined {
  if (flags.endpoint !== undefined && flags.dataDir !== undefined) throw new UsageError('--endpoint and --data-dir exclude each other');
  const chosen = flags.endpoint ?? (flags.dataDir === undefined ? env['LWM2M_BS_ENDPOINT'] || undefined : undefined);
  if (chosen === undefined) {
    if (flags.region !== undefined) throw new UsageError('--region goes with --endpoint');
    return undefined;
  }
  let endpoint: URL;
  try {
    endpoint = new URL(chosen);
  } catch {
    throw new UsageError(`--endpoint is not a URL: "${chosen}"`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(endpoint.hostname);
  if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && loopback)) throw new UsageError('--endpoint must be an https URL (http only for localhost)');
  if (endpoint.search !== '' || endpoint.hash !== '' || endpoint.username !== '' || endpoint.password !== '') {
    throw new UsageError('--endpoint is the API\'s base URL: no query, fragment or user name');
  }
  endpoint.pathname = endpoint.pathname.replace(/\/+$/, '');
  const region = flags.region ?? EXECUTE_API_HOST.exec(endpoint.hostname)?.[1] ?? (env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined);
  if (region === undefined) throw new UsageError(`cannot tell the region of ${endpoint.host}; give --region or set AWS_REGION`);
  return { endpoint, region };
}

/** Builds the client for a target; the commands take one so tests can point them elsewhere. */
export type AdminApiConnector = (target: AdminApiTarget) => AdminApiClient;

export const connectAdminApi: AdminApiConnector = (target) => new AdminApiClient(target);
