/**
 * The JSON-lines metrics log of a run. Every write is awaited, so a failing disk (full, gone) is an
 * error thrown at the write that failed, never an unhandled stream 'error' event.
 */
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fs.js';

/** Writing the metrics log failed (e.g. ENOSPC: the disk is full). */
export class MetricsWriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    cause: Error,
    /** What the caller adds, e.g. where the last good checkpoint is. */
    note = '',
  ) {
    super(
      `cannot write the metrics log ${path}: ${cause.message}` +
        (code === 'ENOSPC' ? ' (the disk is full)' : '') +
        (note ? `. ${note}` : ''),
    );
    this.name = 'MetricsWriteError';
  }
}

/** An open metrics log. */
export interface MetricsLog {
  /** Append one record as a line; rejects with MetricsWriteError. */
  write(record: Readonly<Record<string, unknown>>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Open the log for writing.
 * @param append keep what is there (a resumed run, after trimMetrics); otherwise start empty
 */
export async function openMetricsLog(
  path: string,
  append: boolean,
  note: () => string = () => '',
): Promise<MetricsLog> {
  let handle: FileHandle;
  try {
    handle = await open(path, append ? 'a' : 'w');
  } catch (err) {
    throw new MetricsWriteError(path, (err as NodeJS.ErrnoException).code, err as Error);
  }
  let closed = false;
  return {
    async write(record) {
      try {
        await handle.write(`${JSON.stringify(record)}\n`);
      } catch (err) {
        throw new MetricsWriteError(path, (err as NodeJS.ErrnoException).code, err as Error, note());
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close().catch(() => undefined);
    },
  };
}

/**
 * Keep only the log lines up to `step`: a resumed run rewrites what came after its checkpoint. A
 * crash can leave a half-written last line; it is dropped with everything after the checkpoint.
 * Anything but a regular file (a device, a pipe) is left alone.
 */
export async function trimMetrics(path: string, step: number): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) return;
  } catch {
    return;
  }
  const text = await readFile(path, 'utf8');
  const keep = (line: string): boolean => {
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false;
    }
  };
  const kept = text
    .split('\n')
    .filter((l) => l.trim() && keep(l))
    .map((l) => `${l}\n`)
    .join('');
  await writeFileAtomic(path, kept);
}
