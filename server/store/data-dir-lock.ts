import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const LOCK_FILE = 'dynamodb.lock';

/** The data directory is held by another live process. */
export class DataDirInUseError extends Error {
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(`the data directory ${dataDir} is in use by process ${pid} (remove ${join(dataDir, LOCK_FILE)} if that is not lwm2m-bs)`);
    this.name = 'DataDirInUseError';
    this.pid = pid;
  }
}

/**
 * Claims the data directory's LevelDB for this process. LevelDB locks its directory itself, but
 * dynalite turns a second opener's lock failure into an uncaught exception on the first request;
 * this pid file turns it into an error at start. A lock left by a dead process is taken over.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) throw new DataDirInUseError(dataDir, holder);
    await rm(path, { force: true });
  }
  throw new Error(`could not lock the data directory ${dataDir}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
