/**
 * Progress bars for library calls that report `(stage, done, total)`: one bar per stage, the previous
 * stage's bar closed when the next one reports. The library reports; only the CLI draws.
 */
import { type Progress, progress } from '../util/progress.js';

/** A progress callback drawing bars on stderr, and the `stop` that closes the last one. */
export interface StageBars {
  readonly onProgress: (stage: string, done: number, total: number) => void;
  stop(): void;
}

/** Bars for each reported stage; silent with `quiet` or when stderr is not a terminal. */
export function stageBars(quiet: boolean | undefined): StageBars {
  let current: { stage: string; bar: Progress } | null = null;
  return {
    onProgress(stage, done, total) {
      if (current?.stage !== stage) {
        current?.bar.stop();
        current = { stage, bar: progress(stage, total, { quiet }) };
      }
      current.bar.update(done);
    },
    stop() {
      current?.bar.stop();
      current = null;
    },
  };
}
