/**
 * Does image loading keep a MobileFaceNet training step fed? Images/s of the data pipeline (decode, optional
 * crop + colour jitter + flip, batch assembly, in the worker threads, pixel cache off so every image is
 * decoded every time) on LFW images, next to the images/s of MobileFaceNet training steps (112x112, ArcFace
 * head, 2 ORT threads), each measured alone and both at once on the same cores.
 *
 *   npm run bench:data [-- --lfw ../shared/data/lfw/lfw-deepfunneled --prepared DIR --images 192 --repeats 3
 *                          --batch 32 --workers 1 --step-batch 32 --steps 3 --step-timeout 1800
 *                          --step-seconds S --align 24]
 *
 * Step alone: a child process takes one warm-up step (graph build), then --steps timed steps at --step-batch
 * (default: --batch, the data rows' batch) with no data work running; the bench waits for them up to
 * --step-timeout seconds. --step-seconds S skips that child and takes S seconds per step (e.g. from
 * `npm run bench:train`) as the step alone.
 *
 * Rows: raw LFW JPEGs (250x250, decode + resize to 112), prepared 112x112 crops (`arcface prepare`; made
 * from the first --images LFW files into a temporary folder when --prepared is not given), each without and
 * with augmentation; and detect + align (BlazeFace, the `prepare` path, main thread) on --align raw images.
 * "together" runs the data rows while a child process keeps taking training steps; its step rate is
 * averaged over the steps that fell in that window. Every number is repeated --repeats times: median, min-max.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FolderDataset, MemoryDataset } from '../src/data/index.js';
import { type AlignResult, prepareFolder } from '../src/data/prepare-folder.js';
import { alignFace, createFacePipeline, decodeImage } from '../src/face/index.js';
import { presets } from '../src/heads/index.js';
import { train } from '../src/train/index.js';
import { seededRandom } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    lfw: {
      type: 'string',
      default: fileURLToPath(new URL('../../shared/data/lfw/lfw-deepfunneled', import.meta.url)),
    },
    prepared: { type: 'string' },
    images: { type: 'string', default: '192' },
    repeats: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1' },
    /** The training step's batch (default: --batch). */
    'step-batch': { type: 'string' },
    /** Timed steps of the step-alone child, after its warm-up step. */
    steps: { type: 'string', default: '3' },
    /** Longest wait, seconds, for the step-alone child's warm-up and timed steps. */
    'step-timeout': { type: 'string', default: '1800' },
    /** Override: seconds per training step, used as the step alone instead of measuring it. */
    'step-seconds': { type: 'string' },
    align: { type: 'string', default: '24' },
    /** Internal: take training steps forever, one JSON line per step on stdout. */
    child: { type: 'boolean', default: false },
  },
});

const N = Number(values.images);
const REPEATS = Number(values.repeats);
const BATCH = Number(values.batch);
const WORKERS = Number(values.workers);
const STEP_BATCH = Number(values['step-batch'] ?? values.batch);
const STEPS = Number(values.steps);
const STEP_SECONDS = values['step-seconds'] === undefined ? undefined : Number(values['step-seconds']);
const STEP_TIMEOUT_MS = Number(values['step-timeout']) * 1000;

/** Every numeric flag a positive number (a typo must not turn into NaN rows after minutes of work). */
function checkFlags(): void {
  const flags: [string, number | undefined][] = [
    ['--images', N],
    ['--repeats', REPEATS],
    ['--batch', BATCH],
    ['--step-batch', STEP_BATCH],
    ['--steps', STEPS],
    ['--step-timeout', STEP_TIMEOUT_MS],
    ['--step-seconds', STEP_SECONDS],
    ['--align', Number(values.align)],
  ];
  for (const [flag, v] of flags)
    if (v !== undefined && !(Number.isFinite(v) && v > 0))
      throw new Error(`bench:data: ${flag} must be a positive number, got ${String(v)}`);
  if (!(Number.isInteger(WORKERS) && WORKERS >= 0))
    throw new Error(`bench:data: --workers must be a whole number >= 0, got ${values.workers}`);
}

/** The child: MobileFaceNet + ArcFace training steps on random 112x112 images, until killed. */
async function stepForever(): Promise<void> {
  const classes = 34;
  const n = STEP_BATCH * 4;
  const rand = seededRandom(1);
  const x = Float32Array.from({ length: n * 3 * 112 * 112 }, () => rand() * 2 - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const ds = new MemoryDataset({
    x,
    labels,
    sampleShape: [3, 112, 112],
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
  });
  await train(
    ds,
    {
      backbone: { name: 'mobilefacenet', embeddingDim: 512 },
      head: presets.arcface({ s: 64, m2: 0.5 }),
      optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
      schedule: { kind: 'constant', lr: 0.01 },
      epochs: 1_000_000,
      batchSize: STEP_BATCH,
    },
    {
      threads: 2,
      onStep: (r) => {
        process.stdout.write(`${JSON.stringify({ t: Date.now(), imagesPerSec: r.imagesPerSec })}\n`);
      },
    },
  );
}

interface StepChild {
  readonly proc: ChildProcess;
  /** (time, images/s) of every step so far. */
  readonly steps: { t: number; imagesPerSec: number }[];
  /** Resolves at the next step; rejects when the child exits first (a crash, out of memory). */
  nextStep(): Promise<void>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<void>;
}

function startStepChild(): StepChild {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--step-batch', String(STEP_BATCH)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const steps: { t: number; imagesPerSec: number }[] = [];
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let gone: Error | undefined;
  const exited = new Promise<void>((r) =>
    proc.once('exit', (code, signal) => {
      gone = new Error(`bench:data: the step child exited (${signal ?? `code ${code}`})`);
      for (const w of waiters) w.reject(gone);
      waiters = [];
      r();
    }),
  );
  let buf = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      steps.push(JSON.parse(line) as { t: number; imagesPerSec: number });
      const w = waiters;
      waiters = [];
      for (const f of w) f.resolve();
    }
  });
  const nextStep = (): Promise<void> =>
    gone ? Promise.reject(gone) : new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  return { proc, steps, nextStep, exited };
}

async function stopChild(c: StepChild): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await c.exited;
}

/** MobileFaceNet images/s of STEPS steps after the warm-up, with no data work running; [] on timeout. */
async function stepAlone(): Promise<number[]> {
  const child = startStepChild();
  const rates: number[] = [];
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STEP_TIMEOUT_MS).unref());
  try {
    // STEPS + 1 steps: the first builds the graph and warms ONNX Runtime up.
    while (child.steps.length < STEPS + 1) {
      if ((await Promise.race([child.nextStep(), timeout])) === 'timeout') {
        console.error(
          `step alone: ${child.steps.length} of ${STEPS + 1} steps within --step-timeout ` +
            `${STEP_TIMEOUT_MS / 1000} s; raise it or give --step-seconds`,
        );
        break;
      }
      const last = child.steps.at(-1);
      if (child.steps.length > 1 && last) {
        rates.push(last.imagesPerSec);
        console.error(`step alone: ${last.imagesPerSec.toFixed(2)} images/s`);
      }
    }
  } finally {
    await stopChild(child);
  }
  return rates;
}

/** Images/s of one pass over `ds` in batches (cache off: every image decoded). */
async function dataRate(ds: FolderDataset, augment: boolean, seed: number): Promise<number> {
  const t0 = performance.now();
  let images = 0;
  for await (const b of ds.batches({ batchSize: BATCH, seed, epoch: 0, augment })) images += b.count;
  return (images * 1000) / (performance.now() - t0);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]): string =>
  xs.length === 0
    ? 'n/a'
    : `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;

async function main(): Promise<void> {
  const lfw = resolve(values.lfw);
  const augmentation = { cropScale: 0.9, brightness: 0.2, contrast: 0.2, saturation: 0.2 };
  const open = (root: string): Promise<FolderDataset> =>
    FolderDataset.open(root, { size: 112, workers: WORKERS, cache: false, augmentation });
  const rawAll = await open(lfw);
  const raw = rawAll.subset(Array.from({ length: Math.min(N, rawAll.size) }, (_, i) => i));
  let tmp: string | undefined;
  const pipeline = await createFacePipeline({ recognizer: false, threads: 2 });
  const align = async (bytes: Uint8Array): Promise<AlignResult> => {
    const image = await decodeImage(bytes);
    const { faces } = await pipeline.detect(image);
    if (faces.length === 0) return { kind: 'no-face' };
    const area = (f: (typeof faces)[number]): number => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
    const face = faces.reduce((a, b) => (area(b) > area(a) ? b : a));
    return {
      kind: 'face',
      crop: alignFace(image, face.landmarks, 112),
      faces: faces.length,
      score: face.score,
    };
  };
  let preparedRoot = values.prepared;
  if (!preparedRoot) {
    // Prepare the same raw images once: a link farm of the first N files, aligned into a temporary folder.
    tmp = await mkdtemp(join(tmpdir(), 'bench-data-'));
    const { mkdir, symlink } = await import('node:fs/promises');
    for (const p of raw.paths) {
      const rel = p.slice(lfw.length + 1);
      await mkdir(join(tmp, 'src', rel.split('/')[0]), { recursive: true });
      await symlink(p, join(tmp, 'src', rel));
    }
    preparedRoot = join(tmp, 'prepared');
    await prepareFolder({
      data: join(tmp, 'src'),
      out: preparedRoot,
      align,
      alignerName: 'bench',
      size: 112,
    });
  }
  const preparedAll = await open(preparedRoot);
  const prepared = preparedAll.subset(Array.from({ length: Math.min(N, preparedAll.size) }, (_, i) => i));
  const alignPaths = raw.paths.slice(0, Number(values.align));
  const alignRate = async (): Promise<number> => {
    const t0 = performance.now();
    for (const p of alignPaths) await align(await readFile(p));
    return (alignPaths.length * 1000) / (performance.now() - t0);
  };
  const rows: { name: string; run: (rep: number) => Promise<number> }[] = [
    {
      name: `raw LFW 250x250 -> 112, no augmentation (${raw.size} images)`,
      run: (r) => dataRate(raw, false, r),
    },
    { name: `raw LFW 250x250 -> 112, flip + crop + jitter`, run: (r) => dataRate(raw, true, r) },
    {
      name: `prepared 112x112 crops, no augmentation (${prepared.size})`,
      run: (r) => dataRate(prepared, false, r),
    },
    { name: `prepared 112x112 crops, flip + crop + jitter`, run: (r) => dataRate(prepared, true, r) },
    { name: `detect + align (BlazeFace, main thread; ${alignPaths.length} images)`, run: () => alignRate() },
  ];
  const alone = rows.map(() => [] as number[]);
  const together = rows.map(() => [] as number[]);
  // Data alone.
  for (let rep = 0; rep < REPEATS; rep++)
    for (const [i, row] of rows.entries()) {
      alone[i].push(await row.run(rep));
      console.error(`alone  rep ${rep}: ${row.name}: ${alone[i].at(-1)?.toFixed(1)} images/s`);
    }
  // Step alone, before any data work of the shared phase: the child's steps after its first (graph build,
  // warm-up), nothing else of this bench running. Or the override's fixed time per step.
  const soloStep = STEP_SECONDS === undefined ? await stepAlone() : [STEP_BATCH / STEP_SECONDS];
  // Both at once: data rows while the child steps; the step rate is that of steps ending in the window.
  const sharedStep: number[] = [];
  {
    const child = startStepChild();
    try {
      await child.nextStep();
      const t0 = Date.now();
      for (let rep = 0; rep < REPEATS; rep++)
        for (const [i, row] of rows.entries()) {
          together[i].push(await row.run(rep));
          console.error(`shared rep ${rep}: ${row.name}: ${together[i].at(-1)?.toFixed(1)} images/s`);
        }
      // At least one step inside the window, so the shared rate is measured, not assumed.
      if (!child.steps.some((s) => s.t > t0)) await child.nextStep();
      for (const s of child.steps) if (s.t > t0) sharedStep.push(s.imagesPerSec);
    } finally {
      await stopChild(child);
    }
  }
  await rawAll.close();
  await preparedAll.close();
  await pipeline.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });

  const stepSolo = soloStep.length ? median(soloStep) : NaN;
  const stepShared = median(sharedStep);
  const ratio = (xs: number[], step: number): string =>
    Number.isFinite(step) ? `${fmt(xs.map((v) => v / step))}×` : 'n/a';
  console.log(
    `\nbench:data: batch ${BATCH}, ${WORKERS} data worker(s), cache off; MobileFaceNet step batch ${STEP_BATCH}, ` +
      `2 ORT threads; ${REPEATS} repeats, median (min-max) images/s\n`,
  );
  console.log('| pipeline | alone | data ÷ step, alone | both at once | data ÷ step, both at once |');
  console.log('|---|---|---|---|---|');
  for (const [i, row] of rows.entries()) {
    console.log(
      `| ${row.name} | ${fmt(alone[i])} | ${ratio(alone[i], stepSolo)} | ${fmt(together[i])} | ` +
        `${ratio(together[i], stepShared)} |`,
    );
  }
  const soloText =
    STEP_SECONDS === undefined
      ? `${fmt(soloStep)} (${soloStep.length} of ${STEPS} steps)`
      : `${fmt(soloStep)} (--step-seconds ${STEP_SECONDS})`;
  console.log(
    `| MobileFaceNet training step (batch ${STEP_BATCH}) | ${soloText} | | ` +
      `${fmt(sharedStep)} (${sharedStep.length} steps) | |`,
  );
}

// Last, so every const above is initialised before main() reads it.
if (values.child) await stepForever();
else {
  checkFlags();
  await main();
}
