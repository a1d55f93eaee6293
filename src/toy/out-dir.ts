/**
 * Checks, before any training, that the report folder can be written: a long run must not fail at
 * its very end because `--out` names a file or a folder it may not write to.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The report folder cannot be written; `reason` says why. */
export class OutputDirError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`toy: cannot write the report to ${path}: ${reason}`);
    this.name = 'OutputDirError';
  }
}

async function statOrNull(path: string): Promise<Awaited<ReturnType<typeof stat>> | null> {
  try {
    return await stat(path);
  } catch (err) {
    // ENOTDIR: a file stands somewhere above; the walk up finds and names it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

async function writable(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolve when `dir` (absolute) is an existing writable folder, or does not exist and its nearest
 * existing ancestor is a writable folder (it is created later, with the report). Creates nothing.
 * @throws OutputDirError naming the path and the reason otherwise
 */
export async function checkOutputDir(dir: string): Promise<void> {
  const own = await statOrNull(dir);
  if (own) {
    if (!own.isDirectory()) throw new OutputDirError(dir, 'it exists and is not a folder');
    if (!(await writable(dir))) throw new OutputDirError(dir, 'the folder is not writable');
    return;
  }
  let up = dir;
  for (;;) {
    const parent = dirname(up);
    if (parent === up) throw new OutputDirError(dir, 'no existing folder above it');
    up = parent;
    const s = await statOrNull(up);
    if (!s) continue;
    if (!s.isDirectory()) throw new OutputDirError(dir, `${up} is not a folder`);
    if (!(await writable(up))) throw new OutputDirError(dir, `${up} is not writable`);
    return;
  }
}
