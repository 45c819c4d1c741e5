import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Item } from './item-codec.ts';
import { PARTITION_KEY, SORT_KEY } from './table.ts';

export interface ChangeProxyOptions {
  /** The dynalite endpoint requests are forwarded to, `http://host:port`. */
  readonly target: string;
  readonly tableName: string;
  /**
   * Told the keys a successful write changed, before the writer gets its answer: when a CLI
   * command returns, the server has seen its write. A rejection is logged, not sent back.
   */
  readonly onChange: (keys: Item[]) => Promise<void> | void;
  readonly log?: (message: string) => void;
  readonly host?: string;
}

export interface RunningChangeProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/**
 * An HTTP proxy in front of dynalite for the other processes that share it (CLI commands): it
 * forwards every request and answer unchanged, and reports the table keys each successful write
 * touched, so the local server's in-memory mirror re-reads them. The server's own client talks
 * to dynalite directly; its writes are already in the mirror.
 */
export async function startChangeProxy(options: ChangeProxyOptions): Promise<RunningChangeProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const log = options.log ?? ((message: string) => console.error(message));

  const server = createServer((incoming, outgoing) => {
    void (async () => {
      const body = await readBody(incoming);
      const upstream = await forward(incoming.method ?? 'POST', incoming.url ?? '/', incoming.headers, body);
      const operation = /\.(\w+)$/.exec(String(incoming.headers['x-amz-target'] ?? ''))?.[1];
      if (upstream.status === 200 && operation !== undefined && WRITES.has(operation)) {
        const keys = changedKeys(operation, body, options.tableName);
        if (keys.length > 0) {
          try {
            await options.onChange(keys);
          } catch (error) {
            log(`change proxy: refreshing after ${operation} failed: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
      outgoing.writeHead(upstream.status, { ...endToEnd(upstream.headers), 'content-length': String(upstream.body.length) });
      outgoing.end(upstream.body);
    })().catch((error: unknown) => {
      log(`change proxy: ${error instanceof Error ? error.message : String(error)}`);
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
  });

  function forward(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest({ host: target.hostname, port: target.port, method, path, headers: { ...endToEnd(headers), 'content-length': String(body.length) }, agent }, (response) => {
        readBody(response).then((answer) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: answer }), reject);
      });
      upstream.once('error', reject);
      upstream.end(body);
    });
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }).finally(() => agent.destroy());
      return closing;
    },
  };
}

/** Hop-by-hop headers describe one connection, not the message: each side sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'content-length']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** The `PK`/`SK` keys a write request names on our table; unparsable bodies name none. */
export function changedKeys(operation: string, body: Buffer, tableName: string): Item[] {
  let request: unknown;
  try {
    request = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  if (!isRecord(request)) return [];
  if (operation === 'BatchWriteItem') {
    const writes = isRecord(request.RequestItems) ? request.RequestItems[tableName] : undefined;
    if (!Array.isArray(writes)) return [];
    return writes.flatMap((write: unknown) => {
      if (!isRecord(write)) return [];
      const put = isRecord(write.PutRequest) ? write.PutRequest.Item : undefined;
      const remove = isRecord(write.DeleteRequest) ? write.DeleteRequest.Key : undefined;
      const key = tableKey(put ?? remove);
      return key === undefined ? [] : [key];
    });
  }
  if (request.TableName !== tableName) return [];
  const key = tableKey(operation === 'PutItem' ? request.Item : request.Key);
  return key === undefined ? [] : [key];
}

function tableKey(item: unknown): Item | undefined {
  if (!isRecord(item)) return undefined;
  const pk = item[PARTITION_KEY];
  const sk = item[SORT_KEY];
  if (!isRecord(pk) || typeof pk.S !== 'string' || !isRecord(sk) || typeof sk.S !== 'string') return undefined;
  return { [PARTITION_KEY]: { S: pk.S }, [SORT_KEY]: { S: sk.S } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
