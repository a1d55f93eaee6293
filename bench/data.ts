/**
 * Does image loading keep a MobileFaceNet training step fed? Images/s of the data pipeline (decode, optional
 * crop + colour jitter + flip, batch assembly, in the worker threads, pixel cache off so every image is
 * decoded every time) on LFW images, next to the images/s of MobileFaceNet training steps (112x112, ArcFace
 * head, 2 ORT threads), each measured alone and both at once on the same cores.
 *
 *   npm run bench:data [-- --lfw ../shared/data/lfw/lfw-deepfunneled --prepared DIR --images 192 --repeats 3
 *                          --batch 32 --workers 1 --step-batch 32 --step-seconds 90 --align 24]
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
    'step-batch': { type: 'string', default: '32' },
    /** Longest wait for the step child's steps in the step-alone measurement. */
    'step-seconds': { type: 'string', default: '90' },
    align: { type: 'string', default: '24' },
    /** Internal: take training steps forever, one JSON line per step on stdout. */
    child: { type: 'boolean', default: false },
  },
});

const N = Number(values.images);
const REPEATS = Number(values.repeats);
const BATCH = Number(values.batch);
const WORKERS = Number(values.workers);
const STEP_BATCH = Number(values['step-batch']);

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
  /** Resolves at the next step. */
  nextStep(): Promise<void>;
}

function startStepChild(): StepChild {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--step-batch', String(STEP_BATCH)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const steps: { t: number; imagesPerSec: number }[] = [];
  let waiters: (() => void)[] = [];
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
      for (const f of w) f();
    }
  });
  return { proc, steps, nextStep: () => new Promise((r) => waiters.push(r)) };
}

async function stopChild(c: StepChild): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await exited;
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
  // Step alone: the child's steps after its first (graph build, warm-up).
  const soloStep: number[] = [];
  {
    const child = startStepChild();
    const deadline = Date.now() + Number(values['step-seconds']) * 1000;
    await child.nextStep();
    while (soloStep.length < REPEATS && Date.now() < deadline) {
      await child.nextStep();
      soloStep.push(child.steps.at(-1)?.imagesPerSec ?? 0);
      console.error(`step alone: ${soloStep.at(-1)?.toFixed(2)} images/s`);
    }
    await stopChild(child);
  }
  // Both at once: data rows while the child steps; the step rate is that of steps ending in the window.
  const sharedStep: number[] = [];
  {
    const child = startStepChild();
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
    await stopChild(child);
  }
  await rawAll.close();
  await preparedAll.close();
  await pipeline.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });

  const stepShared = median(sharedStep);
  console.log(
    `\nbench:data: batch ${BATCH}, ${WORKERS} data worker(s), cache off; MobileFaceNet step batch ${STEP_BATCH}, ` +
      `2 ORT threads; ${REPEATS} repeats, median (min-max) images/s\n`,
  );
  console.log('| pipeline | data alone | data while training | ÷ step rate while training |');
  console.log('|---|---|---|---|');
  for (const [i, row] of rows.entries()) {
    const ratio = together[i].map((v) => v / stepShared);
    console.log(`| ${row.name} | ${fmt(alone[i])} | ${fmt(together[i])} | ${fmt(ratio)}× |`);
  }
  console.log(
    `| MobileFaceNet training step | ${fmt(soloStep)} | ${fmt(sharedStep)} (${sharedStep.length} steps) | |`,
  );
}

// Last, so every const above is initialised before main() reads it.
if (values.child) await stepForever();
else await main();
