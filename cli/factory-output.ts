import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from './usage.ts';

/**
 * Writes per-device exports to disk (factory bootstrap information, smartcard images), one
 * owner-only directory per device, all or nothing. Everything goes first into a staging directory inside the output directory (so the
 * final renames stay on one file system); only when every device is written are the device
 * directories moved into place, and with `force` the ones they replace moved aside until the
 * end. A failure at any point undoes what this run did.
 */

/** Longest directory name ext4, XFS, APFS and NTFS take. */
const NAME_MAX = 255;
/** Names the export itself gives files: no separators, no leading dot. */
const SAFE_FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const PLAIN = /^[A-Za-z0-9._-]$/;

/**
 * The directory of a device: its endpoint name with every byte outside [A-Za-z0-9._-] (and a
 * leading '.') written as %XX. `/`, `..` and `:` cannot leave the output directory, a name can
 * never be hidden or `.`/`..`, and two endpoints never share a directory (`%` is encoded too).
 */
export function deviceDirectoryName(endpoint: string): string {
  let name = '';
  for (const byte of Buffer.from(endpoint, 'utf8')) {
    const char = String.fromCharCode(byte);
    name += PLAIN.test(char) && !(name === '' && char === '.') ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return name;
}

/** What one device's directory holds; a FactoryExport is one. */
export interface DeviceFiles {
  readonly files: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly omittedSecrets?: readonly string[];
  readonly warnings?: readonly string[];
}

/** One device to write; `files` is called while writing, so a batch never holds every device's files at once. */
export interface DeviceSource {
  readonly endpoint: string;
  files(): DeviceFiles;
}

export interface WrittenDevice {
  readonly endpoint: string;
  readonly directory: string;
  readonly files: readonly string[];
  readonly omittedSecrets: readonly string[];
  readonly warnings: readonly string[];
}

export interface DeviceWriteOptions {
  /** Replace device directories that already exist. */
  readonly force: boolean;
  /** Called after each device is staged. */
  readonly progress?: (written: number) => void;
  /**
   * Called once every device is staged, before any is moved into place: what must happen only
   * if the whole export is written (storing generated keys). Throwing undoes the run; so does a
   * failure after it, which the caller then takes back on its side.
   */
  readonly beforePlacing?: () => Promise<void>;
}

/** Writes every source's files under `out`, or nothing; returns what was written, in order. */
export async function writeDeviceDirectories(out: string, sources: readonly DeviceSource[], options: DeviceWriteOptions): Promise<WrittenDevice[]> {
  const names = sources.map((source) => deviceDirectoryName(source.endpoint));
  const tooLong = names.findIndex((name) => name.length > NAME_MAX);
  if (tooLong >= 0) {
    throw new InputError(`device ${sources[tooLong]!.endpoint}: its directory name would be ${names[tooLong]!.length} characters, over ${NAME_MAX}; nothing written`);
  }
  if (new Set(names).size !== names.length) throw new InputError('a device is named twice; nothing written');

  const outExisted = await isDirectory(out);
  const existing = outExisted ? await existingNames(out, names) : new Set<string>();
  if (existing.size > 0 && !options.force) {
    const named = [...existing].slice(0, 3).map((name) => join(out, name)).join(', ');
    const more = existing.size > 3 ? ` and ${existing.size - 3} more` : '';
    throw new InputError(`${named}${more} ${existing.size === 1 ? 'already exists (--force replaces it)' : 'already exist (--force replaces them)'}; nothing written`);
  }

  const undo = new Undo();
  try {
    // The first directory mkdir made, so undoing removes the parents it made too.
    if (!outExisted) undo.created = await mkdir(out, { recursive: true, mode: 0o700 });
    // The leading dot keeps it apart from every device directory name.
    const staging = join(out, `.lwm2m-bs-export-${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { mode: 0o700 });
    undo.staging = staging;

    const written: WrittenDevice[] = [];
    for (const [index, source] of sources.entries()) {
      const name = names[index]!;
      const exported = source.files();
      await mkdir(join(staging, name), { mode: 0o700 });
      for (const file of exported.files) {
        if (!SAFE_FILE_NAME.test(file.name)) throw new InputError(`device ${source.endpoint}: refusing the file name ${JSON.stringify(file.name)}`);
        // Created owner-only ('wx': never through an existing file or link), not narrowed afterwards.
        await writeFile(join(staging, name, file.name), file.bytes, { mode: 0o600, flag: 'wx' });
      }
      written.push({
        endpoint: source.endpoint,
        directory: join(out, name),
        files: exported.files.map((file) => file.name),
        omittedSecrets: exported.omittedSecrets ?? [],
        warnings: exported.warnings ?? [],
      });
      options.progress?.(index + 1);
    }
    await options.beforePlacing?.();

    const replaced = join(staging, '.replaced');
    if (existing.size > 0) await mkdir(replaced, { mode: 0o700 });
    for (const name of names) {
      const target = join(out, name);
      if (existing.has(name)) {
        await rename(target, join(replaced, name));
        undo.moved.push({ target, aside: join(replaced, name) });
      }
      await rename(join(staging, name), target);
      undo.placed.push(target);
    }
    await rm(staging, { recursive: true, force: true });
    return written;
  } catch (error) {
    await undo.run();
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string') throw new InputError(`cannot write to ${out}: ${code}; nothing written`);
    throw error;
  }
}

/** What a failed run put in place, in the order to take it back. */
class Undo {
  created: string | undefined;
  staging: string | undefined;
  readonly placed: string[] = [];
  readonly moved: { target: string; aside: string }[] = [];

  /** Best effort: the first error stays the one reported. */
  async run(): Promise<void> {
    const quietly = (work: Promise<unknown>): Promise<unknown> => work.catch(() => undefined);
    for (const target of this.placed.reverse()) await quietly(rm(target, { recursive: true, force: true }));
    for (const { target, aside } of this.moved.reverse()) await quietly(rename(aside, target));
    if (this.staging !== undefined) await quietly(rm(this.staging, { recursive: true, force: true }));
    if (this.created !== undefined) await quietly(rm(this.created, { recursive: true, force: true }));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    if ((await stat(path)).isDirectory()) return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new InputError(`cannot use ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  throw new InputError(`${path} is not a directory`);
}

async function existingNames(out: string, names: readonly string[]): Promise<Set<string>> {
  const existing = new Set<string>();
  for (const name of names) {
    try {
      await lstat(join(out, name));
      existing.add(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputError(`cannot use ${join(out, name)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return existing;
}
