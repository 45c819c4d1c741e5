import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePepper, MIN_PEPPER_BYTES, PepperKeyFingerprinter, PEPPER_BYTES, type KeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';

/** The pepper's file in the data directory: raw bytes, mode 0600, beside (never inside) the table. */
export const PEPPER_FILE = 'key-fingerprint-pepper';

/** Longer than any pepper we write: a file this big is something else put in its place. */
const MAX_PEPPER_FILE_BYTES = 1024;

/**
 * A pepper file that cannot be used. The message names the file and what is wrong with it
 * (size, mode, kind), never its content.
 */
export class PepperFileError extends Error {
  override readonly name = 'PepperFileError';
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`key fingerprint pepper ${path}: ${problem}`);
    this.path = path;
  }
}

/**
 * The data directory's pepper, created on first use (32 bytes from the CSPRNG, mode 0600). The
 * pepper keys every key fingerprint the store indexes: it stays out of the table, so a copy of
 * the table cannot test guessed keys against the fingerprints, and it must outlive every
 * restart, or keys stored before and after would no longer meet in the index. A file shorter
 * than MIN_PEPPER_BYTES, or open to group or others, is refused rather than repaired: either
 * means someone other than this server wrote or may have read it.
 */
export async function loadOrCreatePepper(dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, PEPPER_FILE);
  const existing = await readPepper(path);
  if (existing !== undefined) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Written aside and linked into place: link fails if the name exists, so of two processes
  // creating it at once one wins, and the other reads the winner's whole file.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, generatePepper(), { mode: 0o600, flag: 'wx' });
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new PepperFileError(path, `cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    await rm(temporary, { force: true });
  }
  const created = await readPepper(path);
  if (created === undefined) throw new PepperFileError(path, 'vanished right after it was created');
  return created;
}

/**
 * The fingerprinter of a local server or CLI command: the data directory's pepper, or, for a
 * server that keeps its store in memory only (no data directory), a pepper of its own that dies
 * with the process, as the fingerprints it keys do.
 */
export async function localKeyFingerprinter(dataDir: string | undefined): Promise<KeyFingerprinter> {
  return new PepperKeyFingerprinter(dataDir === undefined ? generatePepper() : await loadOrCreatePepper(dataDir));
}

/**
 * The data directory's fingerprinter, reading (or creating) the pepper file on first use only,
 * so commands that never take a fingerprint leave the directory as it is.
 */
export function dataDirKeyFingerprinter(dataDir: string): KeyFingerprinter {
  let loaded: Promise<KeyFingerprinter> | undefined;
  return {
    async fingerprint(key: Uint8Array): Promise<string> {
      const attempt = (loaded ??= localKeyFingerprinter(dataDir));
      try {
        return await (await attempt).fingerprint(key);
      } catch (error) {
        // A failed load is not kept: the operator may fix the file while a server runs.
        if (loaded === attempt) loaded = undefined;
        throw error;
      }
    },
  };
}

/** The pepper in the file, undefined when there is no file; refuses one that is not fit. */
async function readPepper(path: string): Promise<Uint8Array | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PepperFileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!info.isFile()) throw new PepperFileError(path, 'is not a regular file (a link or a directory is not followed)');
  // Windows keeps no Unix mode bits; there the directory's ACL protects the file.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new PepperFileError(path, `is open to group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); it must be 0600: check who may have read it, then chmod 600 it`);
  }
  if (info.size > MAX_PEPPER_FILE_BYTES) throw new PepperFileError(path, `has ${info.size} bytes, more than a pepper file ever holds (${PEPPER_BYTES} are written)`);
  const handle = await open(path, 'r');
  try {
    const bytes = new Uint8Array(await handle.readFile());
    if (bytes.length < MIN_PEPPER_BYTES) {
      throw new PepperFileError(
        path,
        `has ${bytes.length} bytes, at least ${MIN_PEPPER_BYTES} are needed (${PEPPER_BYTES} are written); a short pepper makes the fingerprints guessable. ` +
          'Restore the original file; a new pepper means re-importing every device so its fingerprint is taken again',
      );
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
