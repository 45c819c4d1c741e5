import { readFileSync } from 'node:fs';
import { isCodecError } from '../shared/errors.ts';
import { attachCommand } from './commands/attach.ts';
import { decodeCommand, encodeCommand, type CommandIO } from './commands/codec.ts';
import { deviceCommand } from './commands/device.ts';
import { exportCommand } from './commands/export.ts';
import { gatewayCommand } from './commands/gateway.ts';
import { importCommand } from './commands/import.ts';
import { profileCommand } from './commands/profile.ts';
import { serveCommand } from './commands/serve.ts';
import { simulateCommand } from './commands/simulate.ts';
import { statusCommand } from './commands/status.ts';
import { InputError, USAGE, UsageError } from './usage.ts';

/** What a command gets: stdout and stdin through `io`, plus stderr for progress and warnings. */
export type CommandContext = CommandIO & { readonly stderr: (text: string) => void };
type Command = (args: string[], io: CommandContext) => Promise<void>;

const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['decode', decodeCommand],
  ['encode', encodeCommand],
  ['profile', profileCommand],
  // `device mark-bootstrap` writes the lifecycle record, which attach.ts owns with `attach`.
  ['device', deviceCommand],
  ['import', importCommand],
  ['status', statusCommand],
  ['attach', attachCommand],
  ['export', exportCommand],
  ['serve', serveCommand],
  ['gateway', gatewayCommand],
  ['simulate', simulateCommand],
]);

const defaultIO: CommandIO = {
  stdout: (text) => process.stdout.write(text),
  readStdin: async () => readFileSync(0, 'utf8'),
};

/** Runs one command line; returns the process exit code (0 ok, 1 bad input, 2 bad usage). */
export async function main(argv: string[], io: CommandIO = defaultIO, stderr: (text: string) => void = (text) => process.stderr.write(text)): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? stderr : io.stdout)(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.get(name);
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    await command(rest, { ...io, stderr });
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      stderr(`lwm2m-bs: ${(error as Error).message}\nRun "lwm2m-bs help" for usage.\n`);
      return 2;
    }
    if (error instanceof InputError) {
      stderr(`lwm2m-bs: ${error.message}\n`);
      return 1;
    }
    if (isCodecError(error)) {
      stderr(`lwm2m-bs: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
