/** The real `arcface` command in a child process, for CLI tests. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { vi } from 'vitest';

/** What one run printed and its exit code (-1: killed, e.g. by the timeout, so a hang fails a test instead of stalling it). */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const BINS = {
  /** bin/arcface.mjs: the published command, compiled dist/ run by plain node. */
  dist: fileURLToPath(new URL('../../bin/arcface.mjs', import.meta.url)),
  /** bin/arcface-dev.mjs: the TypeScript sources through tsx. */
  dev: fileURLToPath(new URL('../../bin/arcface-dev.mjs', import.meta.url)),
} as const;

/**
 * Run `arcface ARGS` with this process's node.
 * @param timeoutMs the child is killed after this many milliseconds
 */
export function runArcface(
  args: readonly string[],
  opts: { readonly bin: keyof typeof BINS; readonly timeoutMs: number },
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BINS[opts.bin], ...args],
      { timeout: opts.timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Run `arcface ARGS` in this process on a program with the commands `register` adds, capturing what it
 * prints. Lines written to stderr go into `stderr` as they come, so they are there even when the
 * command throws.
 * @returns what the command printed to stdout, lines joined by '\n'
 */
export async function runInProcess(
  register: (program: Command) => void,
  args: readonly string[],
  stderr: string[],
): Promise<string> {
  const program = new Command('arcface').exitOverride();
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void stderr.push(a.join(' ')));
  try {
    await program.parseAsync(['node', 'arcface', ...args]);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return lines.join('\n');
}
