import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyFingerprint, MIN_PEPPER_BYTES, PEPPER_BYTES } from '../../shared/lifecycle/key-fingerprint.ts';
import { dataDirKeyFingerprinter, loadOrCreatePepper, localKeyFingerprinter, PEPPER_FILE, PepperFileError } from '../../server/store/pepper-file.ts';

const KEY = Buffer.from('5f0e8a6c1d2b3a4958677685a4b3c2d1', 'hex');
const posix = process.platform !== 'win32';

describe('the data directory pepper file', () => {
  let root: string;
  let counter = 0;
  const freshDir = () => join(root, `data-${(counter += 1)}`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lwm2m-bs-pepper-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('is created on first use: 32 random bytes, mode 0600, in a 0700 directory', async () => {
    const dir = freshDir();
    const fingerprinter = dataDirKeyFingerprinter(dir);
    await assert.rejects(stat(join(dir, PEPPER_FILE)), { code: 'ENOENT' }, 'not before a fingerprint is taken');
    const fingerprint = await fingerprinter.fingerprint(KEY);
    const file = join(dir, PEPPER_FILE);
    const info = await stat(file);
    if (posix) {
      assert.equal(info.mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o077, 0);
    }
    const pepper = await readFile(file);
    assert.equal(pepper.length, PEPPER_BYTES);
    assert.equal(fingerprint, keyFingerprint(KEY, pepper), 'HMAC-SHA256 under the file\u2019s bytes');
  });

  it('is reused across restarts: the same key gives the same fingerprint', async () => {
    const dir = freshDir();
    const first = await dataDirKeyFingerprinter(dir).fingerprint(KEY);
    const pepper = await readFile(join(dir, PEPPER_FILE));
    // A new process would build a new fingerprinter from the same directory.
    const second = await (await localKeyFingerprinter(dir)).fingerprint(KEY);
    assert.equal(second, first);
    assert.deepEqual(await readFile(join(dir, PEPPER_FILE)), pepper, 'the file is not rewritten');
    assert.notEqual(await dataDirKeyFingerprinter(freshDir()).fingerprint(KEY), first, 'another installation, another pepper');
  });

  it('is created once when two writers race for it', async () => {
    const dir = freshDir();
    const peppers = await Promise.all(Array.from({ length: 8 }, () => loadOrCreatePepper(dir)));
    for (const pepper of peppers) assert.deepEqual(pepper, peppers[0]);
  });

  it('gives an in-memory server (no data directory) a pepper of its own per process', async () => {
    const a = await (await localKeyFingerprinter(undefined)).fingerprint(KEY);
    const b = await (await localKeyFingerprinter(undefined)).fingerprint(KEY);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(a, b);
  });

  it('refuses a file shorter than the minimum, naming the sizes and never its bytes', async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const short = Buffer.from('0123456789abcde', 'latin1');
    assert.equal(short.length, MIN_PEPPER_BYTES - 1);
    await writeFile(join(dir, PEPPER_FILE), short, { mode: 0o600 });
    const fingerprinter = dataDirKeyFingerprinter(dir);
    await assert.rejects(fingerprinter.fingerprint(KEY), (error: Error) => {
      assert.ok(error instanceof PepperFileError);
      assert.equal(
        error.message,
        `key fingerprint pepper ${join(dir, PEPPER_FILE)}: has 15 bytes, at least 16 are needed (32 are written); a short pepper makes the fingerprints guessable. ` +
          'Restore the original file; a new pepper means re-importing every device so its fingerprint is taken again',
      );
      assert.ok(!error.message.includes('0123456789abcde') && !error.message.includes(short.toString('hex')));
      assert.ok(!error.message.includes(KEY.toString('hex')));
      return true;
    });
    // Fixed by the operator while the server runs: the next fingerprint loads the file again.
    await writeFile(join(dir, PEPPER_FILE), Buffer.alloc(32, 9), { mode: 0o600 });
    assert.equal(await fingerprinter.fingerprint(KEY), keyFingerprint(KEY, Buffer.alloc(32, 9)));
  });

  it('refuses a file group or others may read, and does not loosen or fix it', { skip: !posix && 'Windows has no Unix mode bits' }, async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, PEPPER_FILE);
    await writeFile(file, Buffer.alloc(32, 1));
    await chmod(file, 0o644);
    await assert.rejects(loadOrCreatePepper(dir), (error: Error) => {
      assert.ok(error instanceof PepperFileError);
      assert.equal(error.message, `key fingerprint pepper ${file}: is open to group or others (mode 0644); it must be 0600: check who may have read it, then chmod 600 it`);
      return true;
    });
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    await chmod(file, 0o640);
    await assert.rejects(loadOrCreatePepper(dir), /mode 0640/);
    await chmod(file, 0o600);
    assert.deepEqual(Buffer.from(await loadOrCreatePepper(dir)), Buffer.alloc(32, 1));
  });

  it('refuses a symbolic link in its place', { skip: !posix && 'symlinks need privileges on Windows' }, async () => {
    const dir = freshDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const target = join(root, 'elsewhere');
    await writeFile(target, Buffer.alloc(32, 2), { mode: 0o600 });
    await symlink(target, join(dir, PEPPER_FILE));
    await assert.rejects(loadOrCreatePepper(dir), /is not a regular file/);
  });
});
