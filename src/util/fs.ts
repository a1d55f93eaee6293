/** File helpers shared by the rooms. */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * Create a folder and its missing parents, like `mkdir -p`, one level at a time. Node's
 * `mkdir(dir, { recursive: true })` never settles where a parent exists but refuses children with ENOENT
 * (`/proc/nope`): each level here is a plain `mkdir` whose error is returned.
 * @throws the first `mkdir` error that is not EEXIST; ENOTDIR-like when a path component is a file
 */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw err;
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeDirs(parent);
    // A parent that exists now but still refuses this child (procfs) throws ENOENT here, once.
    await mkdir(dir).catch(async (again: unknown) => {
      if (errno(again) !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw again;
    });
  }
}

/**
 * Write a file atomically: write a temporary sibling, then rename over the target, so a crash
 * never leaves a half-written file (checkpoints, reports, embeddings).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await makeDirs(dirname(path));
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** An output location that cannot be written; `path` is the location as given. */
export class OutputPathError extends Error {
  override readonly name = 'OutputPathError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

const errno = (err: unknown): string => (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);

/**
 * Check, before any work, that an output location can be written: so a run never computes for an hour and
 * then fails on its `--out`, and never hangs on it (Node's recursive `mkdir` never returns under `/proc`).
 * Nothing is left behind: the nearest existing folder is probed by creating and removing a temporary folder
 * in it; missing folders are left for the writer to create.
 *
 * @param path the output as given (relative to the working directory)
 * @param kind `'file'`: a file to write (an existing file is overwritten, a folder refused);
 *   `'dir'`: a folder to write into (an existing file refused)
 * @throws {OutputPathError} naming the path and what is wrong with it
 */
export async function checkOutputPath(path: string, kind: 'file' | 'dir'): Promise<void> {
  if (path.trim() === '') throw new OutputPathError(path, 'empty output path');
  const target = resolve(path);
  // ENOTDIR: a file stands somewhere above; the walk up below finds it and names it.
  const missing = (err: unknown): boolean => errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR';
  const info = await stat(target).catch((err: unknown) => {
    if (missing(err)) return null;
    throw new OutputPathError(path, `cannot be written (${errno(err)})`, { cause: err });
  });
  if (info) {
    if (kind === 'file' && info.isDirectory())
      throw new OutputPathError(path, 'is a folder, expected a file');
    if (kind === 'dir' && !info.isDirectory())
      throw new OutputPathError(path, 'exists and is not a folder, expected a folder to write into');
  }
  // The folder the output goes in (or, for a missing path, its nearest existing ancestor) must accept writes.
  let dir = info && kind === 'dir' ? target : dirname(target);
  for (;;) {
    const d = await stat(dir).catch((err: unknown) => {
      if (missing(err)) return null;
      throw new OutputPathError(path, `cannot be written: ${dir} (${errno(err)})`, { cause: err });
    });
    if (d) {
      if (!d.isDirectory()) throw new OutputPathError(path, `cannot be written: ${dir} is not a folder`);
      break;
    }
    const up = dirname(dir);
    if (up === dir) throw new OutputPathError(path, 'cannot be written: no existing folder above it');
    dir = up;
  }
  const probe = await mkdtemp(join(dir, '.arcface-write-test-')).catch((err: unknown) => {
    throw new OutputPathError(path, `cannot be written: creating anything in ${dir} fails (${errno(err)})`, {
      cause: err,
    });
  });
  await rmdir(probe);
}
