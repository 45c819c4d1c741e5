import { parseArgs } from 'node:util';
import { ContentFormat, parseContentFormat } from '../../shared/content/format.ts';
import { treeFromJsonView, treeToJsonView } from '../../shared/content/json-view.ts';
import { decodeLinkFormat, encodeLinkFormat, linkEntriesFromJson } from '../../shared/content/link-format.ts';
import { decodeContent, encodeContent } from '../../shared/content/registry.ts';
import { CodecError } from '../../shared/errors.ts';
import { parsePath, ROOT_PATH, type LwM2MPath } from '../../shared/lwm2m/path.ts';
import { formatHex, parseHex } from '../hex.ts';
import { UsageError } from '../usage.ts';

export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly readStdin: () => Promise<string>;
}

interface CodecArguments {
  readonly format: number;
  readonly path: LwM2MPath | undefined;
  readonly input: string;
}

async function parseCodecArguments(command: string, args: string[], io: CommandIO): Promise<CodecArguments> {
  const { values, positionals } = parseArgs({
    args,
    options: { format: { type: 'string', short: 'f' }, path: { type: 'string', short: 'p' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.format === undefined) throw new UsageError(`${command} needs --format <name|number>`);
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one input argument (or - for stdin), got ${positionals.length}`);
  const input = positionals[0] === '-' ? await io.readStdin() : positionals[0]!;
  return {
    format: parseContentFormat(values.format),
    path: values.path === undefined ? undefined : parsePath(values.path),
    input,
  };
}

export async function decodeCommand(args: string[], io: CommandIO): Promise<void> {
  const { format, path, input } = await parseCodecArguments('decode', args, io);
  const bytes = parseHex(input);
  const result =
    format === ContentFormat.LINK_FORMAT ? decodeLinkFormat(bytes) : treeToJsonView(decodeContent(format, bytes, path ?? ROOT_PATH));
  io.stdout(`${JSON.stringify(result, null, 2)}\n`);
}

export async function encodeCommand(args: string[], io: CommandIO): Promise<void> {
  const { format, path, input } = await parseCodecArguments('encode', args, io);
  let json: unknown;
  try {
    json = JSON.parse(input);
  } catch (error) {
    throw new CodecError('MALFORMED', `input is not JSON: ${(error as Error).message}`, { field: 'json' });
  }
  if (format === ContentFormat.LINK_FORMAT) {
    io.stdout(`${formatHex(encodeLinkFormat(linkEntriesFromJson(json)))}\n`);
    return;
  }
  if (path === undefined) throw new UsageError('encode needs --path (the request path the payload is written to, e.g. /0/1)');
  io.stdout(`${formatHex(encodeContent(format, treeFromJsonView(json, path), path))}\n`);
}
