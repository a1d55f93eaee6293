/**
 * A training run's folder (`last.ckpt`, `metrics.jsonl`): one writer at a time (a lock file holding
 * the writer's pid), no silent overwrite of an earlier run, and no temporary files left behind by a
 * crashed one.
 */
import { type FileHandle, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../util/fs.js';

/** The lock file's name inside a run folder. */
export const LOCK_FILE = 'run.lock';

/** A run folder cannot be used as asked (busy, holds another run, unwritable). */
export class RunFolderError extends Error {
  constructor(
    readonly folder: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunFolderError';
  }
}

/** A run folder held by this process. */
export interface RunFolder {
  readonly dir: string;
  /** Leftover `*.tmp` files of an interrupted atomic write, removed when the folder was opened. */
  readonly removedTmp: readonly string[];
  /** The pid of a dead process whose lock was taken over, if any. */
  readonly staleLockPid?: number;
  /** Remove the lock (idempotent). */
  release(): Promise<void>;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLockPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number((JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown }).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    // Unreadable or half-written (a crash between create and write): nobody can be shown to own it.
    return undefined;
  }
}

async function lockAgeMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * Take a run folder's lock: create `run.lock` exclusively with this process's pid. A lock whose pid
 * is not running (a killed run) is taken over; a live one is refused with a RunFolderError.
 * Then remove leftover `*.tmp` files, which only a writer holding the lock could own.
 */
export async function lockRunFolder(dir: string): Promise<RunFolder> {
  try {
    // makeDirs, not mkdir({ recursive }): Node's recursive mkdir never returns under /proc.
    await makeDirs(dir);
  } catch (err) {
    throw new RunFolderError(dir, `cannot create the run folder ${dir}: ${(err as Error).message}`);
  }
  const path = join(dir, LOCK_FILE);
  let staleLockPid: number | undefined;
  let handle: FileHandle | undefined;
  for (let attempt = 0; !handle; attempt++) {
    try {
      handle = await open(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new RunFolderError(dir, `cannot lock the run folder ${dir}: ${(err as Error).message}`);
      }
      const pid = await readLockPid(path);
      // A lock without a readable pid may be one another run has created but not written yet.
      const fresh = pid === undefined && (await lockAgeMs(path)) < 10_000;
      if (fresh || (pid !== undefined && alive(pid))) {
        throw new RunFolderError(
          dir,
          `${dir} is in use by another training run (pid ${pid ?? 'being written'}, see ${path}); ` +
            'wait for it, or delete the lock file if that process is not a training run',
        );
      }
      staleLockPid = pid;
      await rm(path, { force: true });
    }
  }
  try {
    await handle.writeFile(JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }) + '\n');
  } finally {
    await handle.close();
  }
  const removedTmp: string[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.tmp')) continue;
    const p = join(dir, name);
    if ((await stat(p)).isFile()) {
      await rm(p, { force: true });
      removedTmp.push(p);
    }
  }
  let released = false;
  return {
    dir,
    removedTmp,
    staleLockPid,
    async release() {
      if (released) return;
      released = true;
      // Only our own lock: a folder taken over after a crash belongs to its new writer.
      if ((await readLockPid(path)) === process.pid) await rm(path, { force: true });
    },
  };
}
