/**
 * Where an engine graph's time goes: ONNX Runtime's own profiler over a session's last runs, kernel
 * time summed per group (per node with its output shape, or per op type). Used by the benches'
 * `--profile` flags; the profile file is written to the temporary folder and removed afterwards.
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Session, type SessionFeed } from '../src/engine/session.js';

/** ONNX Runtime typed feeds, as `InferenceSession.run` takes them. */
type OrtFeeds = Readonly<Record<string, SessionFeed>>;

export interface ProfileOptions {
  readonly threads: number;
  readonly warmup: number;
  readonly iters: number;
  /**
   * 'node': op type and output shape per node; 'op': op type only; 'engine': op type under the
   * engine op that emitted the node (src/engine/onnx.ts names nodes n<index>_<engine op>_<ONNX op>),
   * e.g. 'ConvGradWeight: MatMul' apart from 'ConvGradInput: MatMul'.
   */
  readonly groupBy: 'node' | 'op' | 'engine';
  /** ONNX Runtime's graph optimisation level (default 'all', the session's own default). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface Profile {
  /** Median wall time of one run, ms. */
  readonly runMs: number;
  /** Summed kernel time of one run, ms (less than runMs by scheduling and copies). */
  readonly kernelMs: number;
  /** Groups by kernel time per run, largest first: [group, ms, kernels per run]. */
  readonly groups: readonly (readonly [string, number, number])[];
}

interface Event {
  name: string;
  cat: string;
  ts: number;
  dur: number;
  args: { op_name?: string; output_type_shape?: unknown[] };
}

/**
 * The engine op in a kernel event's node name ('n12_BatchNormTrain_ReduceMean_kernel_time'), or
 * '(optimiser)' for a node ONNX Runtime's optimiser created or renamed.
 */
function engineOpOf(eventName: string): string {
  return /^n\d+_([A-Za-z0-9]+)_/.exec(eventName)?.[1] ?? '(optimiser)';
}

/** Run `bytes` warmup + iters times with profiling on and group the last `iters` runs' kernel times. */
export async function profileRuns(
  bytes: Uint8Array,
  feeds: OrtFeeds,
  opts: ProfileOptions,
): Promise<Profile> {
  const prefix = join(tmpdir(), `arcface-profile-${process.pid}`);
  const session = await Session.create(
    bytes,
    // The engine's own session settings (runtime.ts), not ONNX Runtime's defaults: its memory
    // pattern planner is on by default and changes what the profile times.
    {
      threads: opts.threads,
      profilePrefix: prefix,
      optimization: opts.optimization,
      enableCpuMemArena: true,
      enableMemPattern: false,
    },
    'profiled graph',
  );
  for (let i = 0; i < opts.warmup + opts.iters; i++) await session.run(feeds);
  session.endProfiling();
  await session.dispose();
  const file = readdirSync(tmpdir()).find((f) => f.startsWith(basename(prefix)));
  if (!file) throw new Error('profile: ONNX Runtime wrote no profile file');
  const events = JSON.parse(readFileSync(join(tmpdir(), file), 'utf8')) as Event[];
  rmSync(join(tmpdir(), file));

  const runs = events.filter((e) => e.name === 'model_run').slice(-opts.iters);
  const inRun = (e: Event): boolean => runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const groups = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inRun(e)) continue;
    const op = e.args.op_name ?? '?';
    const key =
      opts.groupBy === 'op'
        ? op
        : opts.groupBy === 'engine'
          ? `${engineOpOf(e.name)}: ${op}`
          : `${op} ${JSON.stringify(e.args.output_type_shape?.[0] ?? '')}`;
    groups.set(key, (groups.get(key) ?? 0) + e.dur / 1000 / runs.length);
    counts.set(key, (counts.get(key) ?? 0) + 1 / runs.length);
  }
  const durations = runs.map((r) => r.dur / 1000).sort((a, b) => a - b);
  return {
    runMs: durations[Math.floor(durations.length / 2)] ?? NaN,
    kernelMs: [...groups.values()].reduce((a, b) => a + b, 0),
    groups: [...groups.entries()]
      .map(([k, ms]) => [k, ms, counts.get(k) ?? 0] as const)
      .sort((a, b) => b[1] - a[1]),
  };
}

/** Print a profile's headline and its `top` largest groups with their shares of kernel time. */
export function printProfile(title: string, p: Profile, top = 15): void {
  console.log(`${title}: run median ${p.runMs.toFixed(0)} ms, kernels ${p.kernelMs.toFixed(0)} ms`);
  for (const [k, ms, n] of p.groups.slice(0, top)) {
    console.log(
      `${ms.toFixed(1).padStart(9)} ms  ${((100 * ms) / p.kernelMs).toFixed(1).padStart(5)}%  ${String(Math.round(n)).padStart(4)}x  ${k}`,
    );
  }
}
