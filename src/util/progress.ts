/** Progress bars for long work (stderr, so stdout stays clean for results). */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advance to `value` (absolute), updating named fields shown in the bar. */
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar with a label, count, ETA and free-form fields. Silent (no-op) when stderr is not a
 * terminal or `quiet` is set, so logs and CI output stay readable.
 */
export function progress(
  label: string,
  total: number,
  opts: { quiet?: boolean; fields?: string[] } = {},
): Progress {
  if (opts.quiet || !process.stderr.isTTY) {
    return { update: () => undefined, stop: () => undefined };
  }
  const extra = (opts.fields ?? []).map((f) => `${f} {${f}}`).join(' | ');
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}${extra ? ` | ${extra}` : ''}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const empty = Object.fromEntries((opts.fields ?? []).map((f) => [f, '']));
  bar.start(total, 0, empty);
  return {
    update: (value, fields) => bar.update(value, fields ?? {}),
    stop: () => bar.stop(),
  };
}
