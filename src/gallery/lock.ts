/**
 * The embedded store's single-process lock: a file holding the owner's pid, created exclusively. PGlite runs
 * PostgreSQL inside this process, so a second process opening the same directory would corrupt it; this makes
 * that a clear error instead. A lock left by a dead process (killed, crashed) is taken over.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { GalleryError } from './errors.js';

export const LOCK_FILE = 'arcface-gallery.lock';

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A held lock: `release` removes the file (also done at process exit if forgotten). */
export interface DirLock {
  release(): Promise<void>;
}

/**
 * Take the lock file at `path` for this process.
 * @throws GalleryError 'locked' naming the pid that holds it.
 */
export async function lockDirectory(path: string, dir: string): Promise<DirLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      const onExit = (): void => {
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
      process.once('exit', onExit);
      return {
        release: async () => {
          process.off('exit', onExit);
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new GalleryError(
        'locked',
        `the gallery at ${dir} is open in another process (pid ${pid}${pid === process.pid ? ', this one' : ''}). ` +
          'The embedded store is single-process: close the other one, or put the gallery on a PostgreSQL ' +
          'server (--db postgres://…) to share it.',
      );
    }
    // The owner is gone (killed, crashed): its lock is stale.
    await unlink(path).catch(() => undefined);
  }
  throw new GalleryError('locked', `could not take the lock ${path}: it keeps reappearing`);
}
