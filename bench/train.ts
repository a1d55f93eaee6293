/**
 * One full training step (forward, backward, SGD-momentum update) of MobileFaceNet and IResNet-18 at
 * 112x112, batch 64, with an ArcFace head (s = 64, m = 0.5) over 1,000 classes and 512-d embeddings:
 * the engine (one ONNX graph per step, ONNX Runtime CPU) side by side with the same architecture and
 * step in PyTorch CPU, both on 2 threads. The forward pass alone is timed too (train-mode BatchNorm,
 * no gradients), which says how much of a step is the backward pass and the update.
 *
 *   npm run bench:train [-- --models mobilefacenet,iresnet18 --batch 64 --iters 3 --warmup 3 --rounds 3
 *                          --malloc glibc,jemalloc]
 *   npm run bench:train -- --profile --models mobilefacenet [--by-node | --by-engine-op] [--top 20] [--variant bn=centred]
 *     (where the step's time goes, under the default lowerings or a variant's; --by-engine-op adds the
 *     convolutions' GFLOP/s, forward and each gradient)
 *   npm run bench:train -- --profile-torch --models mobilefacenet [--malloc jemalloc]
 *     (PyTorch's side: torch.profiler's self time per aten op, and its convolutions' GFLOP/s)
 *   npm run bench:train -- --ab default,prelu=min [--models mobilefacenet --repeats 5]   (A/B of two variants)
 *
 * --ab compares two engine variants on whole training steps: a variant is a lowering choice
 * (src/engine/lowering.ts, fields joined by '+', e.g. 'prelu=min+bn=affine'), 'arena=off' (ONNX
 * Runtime's CPU arena), 'pattern=on' (its memory-pattern planner), 'spin=off' (its intra-op threads' spinning), 'opt=extended|all' (its graph
 * optimisation level for the step; 'all' adds the NCHWc layout transform), or 'default'. The two run INTERLEAVED, each measurement in a fresh child
 * process, in the order A B, B A, A B, ... for --repeats rounds, so that a machine whose load drifts
 * (other jobs on the same cores) shifts both variants alike; the table gives each variant's median
 * and min-max of ms/step and of peak RSS, and B/A as the ratio of medians with the min-max of the
 * per-round ratios. Only the step is timed there (no forward-only pass, no PyTorch).
 *
 * The side-by-side table runs both sides under each C allocator of --malloc (one row each): PyTorch
 * takes every tensor from malloc, and under glibc's defaults its step time is mostly page faults
 * (see allocatorEnv), so a comparison with glibc alone flatters the engine. A variant may also carry
 * 'malloc=jemalloc' (with --ab-mode process) to A/B the engine's own allocator.
 *
 * Each measurement runs in a fresh child process, so "peak MB" is that process's RSS high-water
 * mark and one model's memory never counts against the next. An engine step includes what
 * training pays each step: every parameter and optimizer state crosses
 * into ONNX Runtime and the updated ones come back into JS. PyTorch's modules are transcribed from
 * InsightFace's arcface_torch (backbones/mobilefacenet.py, iresnet.py); test/nn checks that the
 * engine's modules have the same parameter names and shapes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.js';
import { presets } from '../src/heads/index.js';
import type { BackboneSpec } from '../src/nn/index.js';
import {
  type CompiledStep,
  type TrainConfig,
  type TrainState,
  buildArchitecture,
  compileStep,
  initOptimizerState,
  initialTensors,
} from '../src/train/index.js';
import { printProfile, profileRuns } from './profile.js';
import { PYTHON, TORCH_MODELS } from './torch-models.js';
import type { SessionFeed } from '../src/engine/session.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'mobilefacenet,iresnet18' },
    batch: { type: 'string', default: '64' },
    classes: { type: 'string', default: '1000' },
    iters: { type: 'string', default: '3' },
    // PyTorch's first three steps run 1.5-4x slower than the rest (oneDNN primitive creation, the
    // allocator growing): one warm-up step measured its start-up, not its speed.
    warmup: { type: 'string', default: '3' },
    /** Rounds of the engine-vs-PyTorch table, alternating which side runs first. */
    rounds: { type: 'string', default: '1' },
    /**
     * The C allocator of both sides' processes, comma-separated: 'glibc' (as installed), 'jemalloc'
     * or 'tcmalloc' (Debian's libjemalloc2 / libtcmalloc-minimal4, by LD_PRELOAD). One table row each;
     * default glibc, plus jemalloc where it is installed.
     */
    malloc: { type: 'string' },
    threads: { type: 'string', default: '2' },
    /** Print ONNX Runtime's kernel time per op type of the engine step instead of the table. */
    profile: { type: 'boolean', default: false },
    /** With --profile: group by node and output shape instead of op type. */
    'by-node': { type: 'boolean', default: false },
    /** With --profile: group by the engine op that emitted each node (ConvGradWeight, BatchNormTrain, ...). */
    'by-engine-op': { type: 'boolean', default: false },
    /** PyTorch's step under torch.profiler (see the header). */
    'profile-torch': { type: 'boolean', default: false },
    /** With --profile: how many groups to print. */
    top: { type: 'string', default: '20' },
    /** A/B: two engine variants, comma-separated (see the header). */
    ab: { type: 'string' },
    /** A/B: rounds (each runs both variants once). */
    repeats: { type: 'string', default: '5' },
    /**
     * A/B: 'steps' alternates the two variants' steps inside one child process (both graphs compiled
     * side by side; peak RSS is the pair's); 'process' gives every measurement its own child (each
     * variant's own peak RSS, but a compile and warm-up per measurement).
     */
    'ab-mode': { type: 'string', default: 'steps' },
    /** Internal (child): alternate the steps of these two variants (comma-separated). */
    'ab-steps': { type: 'string' },
    /** Internal: run the engine for one backbone in this (child) process. */
    child: { type: 'string' },
    /** The engine variant of a child or of --profile (see the header). */
    variant: { type: 'string', default: 'default' },
    /** Internal (child): time the step only, not the forward pass. */
    'step-only': { type: 'boolean', default: false },
  },
});

const B = Number(values.batch);
const C = Number(values.classes);
const ITERS = Number(values.iters);
const WARMUP = Number(values.warmup);
const THREADS = Number(values.threads);
const D = 512;
const SHAPE = [3, 112, 112];

/** Where Debian puts the allocators `--malloc` can preload. */
const ALLOCATORS: Record<string, string> = {
  jemalloc: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  tcmalloc: '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
};

/**
 * The environment of a child process running under one C allocator. PyTorch allocates every tensor
 * with malloc; under glibc's defaults each tensor above the mmap threshold (at most 32 MB) is a fresh
 * mmap whose pages fault in on first touch and go back on free, every step: IResNet-18 spent 2/3 of its
 * wall time in the kernel. A caching allocator keeps them (PyTorch's CPU tuning guide recommends
 * jemalloc or tcmalloc); the engine's buffers come from ONNX Runtime's arena, which does the same.
 * Throws when the allocator is not installed, naming the package.
 */
function allocatorEnv(mode: string): NodeJS.ProcessEnv {
  const { LD_PRELOAD: _, ...env } = process.env;
  if (mode === 'glibc') return env;
  const lib = ALLOCATORS[mode];
  if (!lib) throw new Error(`--malloc takes glibc, jemalloc or tcmalloc, got '${mode}'`);
  if (!existsSync(lib)) {
    const pkg = mode === 'jemalloc' ? 'libjemalloc2' : 'libtcmalloc-minimal4';
    throw new Error(`--malloc ${mode}: ${lib} not found (apt-get install ${pkg})`);
  }
  // jemalloc's default decay hands freed pages back within seconds, which is the page-fault cost again
  // at the pace of a training step; keep them, as ONNX Runtime's arena does.
  return mode === 'jemalloc'
    ? { ...env, LD_PRELOAD: lib, MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:-1' }
    : { ...env, LD_PRELOAD: lib };
}

/** A variant's allocator ('malloc=jemalloc' field; glibc when absent) and the rest of the variant. */
function splitMalloc(variant: string): { malloc: string; rest: string } {
  const fields = variant === 'default' ? [] : variant.split('+');
  const m = fields.find((f) => f.startsWith('malloc='));
  const rest = fields.filter((f) => f !== m);
  return { malloc: m ? m.slice('malloc='.length) : 'glibc', rest: rest.length ? rest.join('+') : 'default' };
}

interface Timing {
  /** Mean ms per training step. */
  readonly step: number;
  /** Mean ms of the forward pass alone. */
  readonly forward: number;
  readonly loss: number;
  /** Peak resident memory of the process, MB. */
  readonly peakMB: number;
  readonly compileMs?: number;
  readonly nodes?: number;
}

function normals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 4294967297;
  };
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

async function mean(iters: number, warmup: number, fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await fn();
  return (performance.now() - t0) / iters;
}

function benchConfig(name: BackboneSpec['name']): TrainConfig {
  return {
    backbone: { name, embeddingDim: D } as BackboneSpec,
    head: presets.arcface({ s: 64, m2: 0.5 }),
    optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
    schedule: { kind: 'constant', lr: 0.1 },
    epochs: 1,
    batchSize: B,
  };
}

/** A variant's lowering choice and runtime options; throws on an unknown field. */
function variantOptions(variant: string): { lowering: Partial<E.Lowerings>; runtime: E.RuntimeOptions } {
  const fields = variant === 'default' ? [] : variant.split('+');
  // Runtime switches: ONNX Runtime's CPU arena, its memory-pattern planner, its intra-op threads'
  // spinning, and its graph optimisation level ('all' adds the NCHWc layout transform to 'extended').
  const runtime: {
    enableCpuMemArena?: boolean;
    enableMemPattern?: boolean;
    spinning?: boolean;
    optimization?: 'all' | 'extended';
  } = {};
  const lowering: string[] = [];
  for (const f of fields) {
    const [key, value] = f.split('=');
    if (key === 'opt') {
      if (value !== 'all' && value !== 'extended')
        throw new Error(`variant '${variant}': opt takes all or extended`);
      runtime.optimization = value;
    } else if (key !== 'arena' && key !== 'spin' && key !== 'pattern') lowering.push(f);
    else if (value !== 'on' && value !== 'off')
      throw new Error(`variant '${variant}': ${key} takes on or off`);
    else if (key === 'arena') runtime.enableCpuMemArena = value === 'on';
    else if (key === 'pattern') runtime.enableMemPattern = value === 'on';
    else runtime.spinning = value === 'on';
  }
  return { lowering: E.parseLowerings(lowering.join('+')), runtime };
}

async function engine(name: BackboneSpec['name'], variant = 'default', stepOnly = false): Promise<Timing> {
  const opts = variantOptions(variant);
  E.setLowerings(opts.lowering);
  const config = benchConfig(name);
  const { backbone, head } = buildArchitecture(config, SHAPE, C);
  const { params, buffers } = initialTensors(backbone, head, 0);
  const state = { params, buffers, state: initOptimizerState(config.optimizer, params) };
  const x = normals(B * 3 * 112 * 112, 1);
  const labels = BigInt64Array.from({ length: B }, (_, i) => BigInt((i * 37) % C));

  const t0 = performance.now();
  const step = await compileStep(
    { backbone, head, optimizer: config.optimizer, batch: B, sampleShape: SHAPE },
    { threads: THREADS, ...opts.runtime },
  );
  const compileMs = performance.now() - t0;
  let loss = NaN;
  // A small learning rate keeps repeated steps on one batch finite.
  const stepMs = await mean(ITERS, WARMUP, async () => {
    loss = (await step.run(state, { x, labels, lr: 1e-3, t: 1, seed: 0 })).loss;
  });
  // The step's peak is read before the forward-only session exists: a released session's memory
  // only goes back when it is garbage-collected, so measuring the forward pass first counted its
  // buffers against the step.
  const peakMB = process.resourceUsage().maxRSS / 1024;
  if (stepOnly) return { step: stepMs, forward: NaN, loss, compileMs, nodes: step.nodeCount, peakMB };

  const fw = backbone.forward(E.input('x', [B, ...SHAPE]), 'train');
  const fwd = await E.Program.compile({ outputs: { y: fw.y } }, { threads: THREADS, checkFinite: false });
  const feeds: Record<string, Float32Array> = { x };
  for (const v of fwd.inputs)
    if (v.name !== 'x') feeds[v.name] = (params.has(v.name) ? params : buffers).get(v.name).data;
  const forward = await mean(ITERS, WARMUP, async () => void (await fwd.run(feeds)));
  return { step: stepMs, forward, loss, compileMs, nodes: step.nodeCount, peakMB };
}

/** What an in-process A/B child reports: each variant's step times in ms, and the pair's peak RSS. */
interface StepsAB {
  readonly steps: readonly (readonly number[])[];
  readonly losses: readonly number[];
  readonly peakMB: number;
}

/**
 * Compile both variants' steps in this process and time them alternately (A B, B A, A B, ...), so
 * that load from other jobs falls on both alike. Each variant trains its own copy of the state.
 */
async function engineSteps(name: BackboneSpec['name'], variants: readonly string[]): Promise<StepsAB> {
  const config = benchConfig(name);
  const x = normals(B * 3 * 112 * 112, 1);
  const labels = BigInt64Array.from({ length: B }, (_, i) => BigInt((i * 37) % C));
  const built: { step: CompiledStep; state: TrainState }[] = [];
  for (const v of variants) {
    const opts = variantOptions(v);
    E.setLowerings({ ...E.DEFAULT_LOWERINGS, ...opts.lowering });
    const { backbone, head } = buildArchitecture(config, SHAPE, C);
    const { params, buffers } = initialTensors(backbone, head, 0);
    const state = { params, buffers, state: initOptimizerState(config.optimizer, params) };
    const step = await compileStep(
      { backbone, head, optimizer: config.optimizer, batch: B, sampleShape: SHAPE },
      { threads: THREADS, ...opts.runtime },
    );
    built.push({ step, state });
  }
  const losses = [NaN, NaN];
  const once = async (k: number): Promise<number> => {
    const t0 = performance.now();
    losses[k] = (await built[k].step.run(built[k].state, { x, labels, lr: 1e-3, t: 1, seed: 0 })).loss;
    return performance.now() - t0;
  };
  for (let i = 0; i < WARMUP; i++) for (const k of [0, 1]) await once(k);
  const steps: number[][] = [[], []];
  for (let r = 0; r < Number(values.repeats); r++)
    for (const k of r % 2 ? [1, 0] : [0, 1]) steps[k].push(await once(k));
  return { steps, losses, peakMB: process.resourceUsage().maxRSS / 1024 };
}

/** Run the engine for one backbone in a fresh process. */
function engineChild<T = Timing>(
  name: string,
  variant?: string,
  abSteps?: string,
  env: NodeJS.ProcessEnv = allocatorEnv('glibc'),
): T | string {
  const self = fileURLToPath(import.meta.url);
  const flags = ['--child', name, '--batch', String(B), '--classes', String(C)];
  if (variant !== undefined) flags.push('--variant', variant, '--step-only');
  if (abSteps !== undefined) flags.push('--ab-steps', abSteps, '--repeats', String(values.repeats));
  flags.push('--iters', String(ITERS), '--warmup', String(WARMUP), '--threads', String(THREADS));
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...flags], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env,
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) {
    const why =
      r.signal === 'SIGKILL' ? 'killed (out of memory?)' : (r.stderr || '').trim().split('\n').at(-1);
    return `failed: ${why}`;
  }
  return JSON.parse(line.slice(7)) as T;
}

/** PyTorch's side in a child python (its last stdout line, JSON), or why it did not run. */
function pytorch<T = Timing>(name: string, env: NodeJS.ProcessEnv): T | string {
  if (!existsSync(PYTHON)) return `skipped: ${PYTHON} not found`;
  const r = spawnSync(
    PYTHON,
    ['-c', TORCH_MODELS, name, String(B), String(C), String(ITERS), String(WARMUP), String(THREADS)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env,
    },
  );
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').at(-1);
    return /No module named 'torch'/.test(r.stderr ?? '')
      ? 'skipped: python3-torch not installed'
      : `failed: ${why}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** Whether tfjs-backend-wasm can train a conv net: it needs a kernel for the conv weight gradient. */
async function tfjsStatus(): Promise<string> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
    const missing = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter'].filter(
      (k) => !tf.getKernel(k, 'wasm'),
    );
    if (missing.length)
      return `n/a (tfjs-backend-wasm has no ${missing.join(' / ')} kernel: it cannot train convolutions)`;
    return 'n/a (not measured)';
  } catch (e) {
    return `n/a (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** ONNX Runtime's profile of one engine step: kernel time per op type (or node), forward and backward together. */
async function profileStep(name: BackboneSpec['name'], variant: string): Promise<void> {
  const opts = variantOptions(variant);
  E.setLowerings(opts.lowering);
  const config = benchConfig(name);
  const { backbone, head } = buildArchitecture(config, SHAPE, C);
  const { params, buffers } = initialTensors(backbone, head, 0);
  const state = initOptimizerState(config.optimizer, params);
  const step = await compileStep(
    { backbone, head, optimizer: config.optimizer, batch: B, sampleShape: SHAPE },
    { threads: THREADS, ...opts.runtime },
  );
  const feeds: Record<string, SessionFeed> = {};
  for (const v of step.graph.inputs) {
    const stored = [params, buffers, state].find((s) => s.has(v.name))?.get(v.name).data;
    const data =
      v.name === 'x'
        ? normals(B * 3 * 112 * 112, 1)
        : v.name === 'labels'
          ? BigInt64Array.from({ length: B }, (_, i) => BigInt((i * 37) % C))
          : v.name === 'lr'
            ? Float32Array.of(1e-3)
            : (stored ?? new Float32Array(v.shape.reduce((a, d) => a * d, 1)).fill(1)); // dropout masks: keep all
    feeds[v.name] = { data, dims: v.shape };
  }
  const p = await profileRuns(step.graph.bytes, feeds, {
    threads: THREADS,
    // The step's own level (compileStep's default unless the variant sets one).
    optimization: opts.runtime.optimization ?? 'extended',
    warmup: WARMUP,
    iters: ITERS,
    groupBy: values['by-node'] ? 'node' : values['by-engine-op'] ? 'engine' : 'op',
  });
  printProfile(`${name} step, variant ${variant} (${step.nodeCount} nodes)`, p, Number(values.top));
  if (values['by-engine-op']) {
    const flops = convFlops(backbone);
    const ms = (prefix: string): number =>
      p.groups.filter(([k]) => k.startsWith(`${prefix}: `)).reduce((a, [, v]) => a + v, 0);
    console.log(`convolutions (${(flops.forward / 1e9).toFixed(1)} GFLOP forward at batch ${B}):`);
    for (const [label, op, f] of [
      ['forward', 'Conv', flops.forward],
      ['input gradient', 'ConvGradInput', flops.forward - flops.firstLayer],
      ['weight gradient', 'ConvGradWeight', flops.forward],
    ] as const)
      console.log(`  ${label.padEnd(16)} ${rate(f, ms(op))}`);
  }
}

const rate = (flop: number, ms: number): string =>
  `${ms.toFixed(0).padStart(6)} ms  ${(flop / 1e6 / ms).toFixed(0).padStart(4)} GFLOP/s`;

/**
 * Multiply-adds (x2) of the backbone's convolutions in one forward pass at batch B; each gradient
 * costs the same, except that the first layer's input needs none.
 */
function convFlops(backbone: ReturnType<typeof buildArchitecture>['backbone']): {
  forward: number;
  firstLayer: number;
} {
  const y = backbone.forward(E.input('x', [B, ...SHAPE]), 'train').y;
  const seen = new Set<number>();
  let forward = 0;
  let firstLayer = 0;
  const stack: E.Tensor[] = [y];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const src = t.source;
    if (src.kind !== 'op' || seen.has(t.id)) continue;
    seen.add(t.id);
    if (src.node.op.name === 'Conv') {
      const [n, o, ho, wo] = t.shape;
      const [, cg, kh, kw] = src.node.inputs[1].shape;
      const f = 2 * n * o * ho * wo * cg * kh * kw;
      forward += f;
      if (src.node.inputs[0].source.kind === 'input') firstLayer += f;
    }
    stack.push(...src.node.inputs);
  }
  return { forward, firstLayer };
}

/** PyTorch's step under torch.profiler: its heaviest aten ops and its convolutions' GFLOP/s. */
function profileTorch(name: BackboneSpec['name']): void {
  const malloc = values.malloc === undefined ? 'glibc' : values.malloc.split(',')[0];
  const r = pytorch<{ stepMs: number; ops: [string, number][] }>(name, {
    ...allocatorEnv(malloc),
    MODE_PROFILE: '1',
  });
  if (typeof r === 'string') return void console.log(`${name}: PyTorch ${r}`);
  const { stepMs, ops } = r;
  const total = ops.reduce((a, [, ms]) => a + ms, 0);
  console.log(
    `${name}, PyTorch under torch.profiler (${malloc}): ${stepMs.toFixed(0)} ms/step, self time ${total.toFixed(0)} ms`,
  );
  for (const [op, ms] of ops.slice(0, Number(values.top)))
    console.log(`${ms.toFixed(1).padStart(9)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${op}`);
  const { backbone } = buildArchitecture(benchConfig(name), SHAPE, C);
  const flops = convFlops(backbone);
  const self = (op: string): number => ops.find(([k]) => k === op)?.[1] ?? 0;
  console.log(`convolutions (${(flops.forward / 1e9).toFixed(1)} GFLOP forward at batch ${B}):`);
  console.log(`  ${'forward'.padEnd(16)} ${rate(flops.forward, self('aten::mkldnn_convolution'))}`);
  console.log(
    `  ${'both gradients'.padEnd(16)} ${rate(2 * flops.forward - flops.firstLayer, self('aten::convolution_backward'))}`,
  );
}

const fmt = (v: number): string => v.toFixed(0);
const ips = (ms: number): string => ((B * 1000) / ms).toFixed(1);

/** Median and range of a sample. */
function spread(v: readonly number[]): { median: number; min: number; max: number } {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s.at(-1)! };
}

/** Interleaved A/B of two engine variants on whole steps, one fresh child per measurement. */
function abRun(variants: readonly string[]): void {
  if (variants.length !== 2) throw new Error(`--ab takes two variants, comma-separated, got '${values.ab}'`);
  // Fail before the first child on a typo.
  for (const v of variants) {
    const { malloc, rest } = splitMalloc(v);
    variantOptions(rest);
    allocatorEnv(malloc);
    if (malloc !== 'glibc' && values['ab-mode'] === 'steps')
      throw new Error(`variant '${v}': malloc= sets a process's allocator; use --ab-mode process`);
  }
  const repeats = Number(values.repeats);
  if (values['ab-mode'] === 'steps') return abSteps(variants, repeats);
  if (values['ab-mode'] !== 'process')
    throw new Error(`--ab-mode takes steps or process, got '${values['ab-mode']}'`);
  console.log(
    `A/B, batch ${B} at 112x112, ${C} classes, ${THREADS} threads; each measurement a fresh process ` +
      `(${WARMUP} warm-up + ${ITERS} timed steps), ${repeats} rounds interleaved A B / B A; load average at start ` +
      `${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
  );
  for (const name of values.models.split(',')) {
    const runs: Timing[][] = [[], []];
    const failures: string[] = [];
    for (let r = 0; r < repeats; r++) {
      for (const k of r % 2 ? [1, 0] : [0, 1]) {
        const { malloc, rest } = splitMalloc(variants[k]);
        const t = engineChild(name, rest, undefined, allocatorEnv(malloc));
        if (typeof t === 'string') failures.push(`${variants[k]} round ${r + 1}: ${t}`);
        else runs[k].push(t);
        console.error(
          `  ${name} round ${r + 1} ${variants[k]}: ${typeof t === 'string' ? t : `${fmt(t.step)} ms/step, ${fmt(t.peakMB)} MB, loss ${t.loss.toFixed(4)}`}`,
        );
      }
    }
    console.log(`${name}:`);
    console.log('| variant | ms/step median | min-max | peak MB median | min-max | runs |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    runs.forEach((rs, k) => {
      const ms = spread(rs.map((t) => t.step));
      const mb = spread(rs.map((t) => t.peakMB));
      console.log(
        `| ${'AB'[k]}: ${variants[k]} | ${fmt(ms.median)} | ${fmt(ms.min)}-${fmt(ms.max)} | ${fmt(mb.median)} | ${fmt(mb.min)}-${fmt(mb.max)} | ${rs.length} |`,
      );
    });
    const n = Math.min(runs[0].length, runs[1].length);
    if (n > 0) {
      const ratio = (f: (t: Timing) => number): string => {
        const per = spread(Array.from({ length: n }, (_, i) => f(runs[1][i]) / f(runs[0][i])));
        const med = spread(runs[1].map(f)).median / spread(runs[0].map(f)).median;
        return `${med.toFixed(3)} (per round ${per.min.toFixed(3)}-${per.max.toFixed(3)})`;
      };
      console.log(`\nB/A ms/step ${ratio((t) => t.step)}; B/A peak MB ${ratio((t) => t.peakMB)}`);
    }
    if (failures.length) console.log(`failed: ${failures.join('; ')}`);
    console.log('');
  }
}

/** The A/B with both variants' steps alternating in one child per model. */
function abSteps(variants: readonly string[], repeats: number): void {
  console.log(
    `A/B, batch ${B} at 112x112, ${C} classes, ${THREADS} threads; both variants compiled in one fresh process ` +
      `per model, ${WARMUP} warm-up step each, then ${repeats} rounds of one step each, alternating A B / B A; ` +
      `load average at start ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
  );
  for (const name of values.models.split(',')) {
    const r = engineChild<StepsAB>(name, undefined, variants.join(','));
    if (typeof r === 'string') {
      console.log(`${name}: ${r}\n`);
      continue;
    }
    console.log(`${name} (peak RSS of the pair: ${fmt(r.peakMB)} MB):`);
    console.log('| variant | ms/step median | min-max | steps | last loss |');
    console.log('| --- | --- | --- | --- | --- |');
    r.steps.forEach((ts, k) => {
      const ms = spread(ts);
      console.log(
        `| ${'AB'[k]}: ${variants[k]} | ${fmt(ms.median)} | ${fmt(ms.min)}-${fmt(ms.max)} | ${ts.length} | ${r.losses[k].toFixed(4)} |`,
      );
    });
    const per = spread(r.steps[1].map((b, i) => b / r.steps[0][i]));
    const med = spread(r.steps[1]).median / spread(r.steps[0]).median;
    console.log(
      `\nB/A ms/step ${med.toFixed(3)} (ratio of medians; per round ${per.min.toFixed(3)}-${per.max.toFixed(3)}, median ${per.median.toFixed(3)})\n`,
    );
  }
}

if (values.child && values['ab-steps']) {
  const r = await engineSteps(values.child as BackboneSpec['name'], values['ab-steps'].split(','));
  console.log(`RESULT ${JSON.stringify(r)}`);
} else if (values.child) {
  const t = await engine(values.child as BackboneSpec['name'], values.variant, values['step-only']);
  console.log(`RESULT ${JSON.stringify(t)}`);
} else if (values.ab !== undefined) {
  abRun(values.ab.split(','));
} else if (values.profile) {
  for (const name of values.models.split(','))
    await profileStep(name as BackboneSpec['name'], values.variant);
} else if (values['profile-torch']) {
  for (const name of values.models.split(',')) profileTorch(name as BackboneSpec['name']);
} else {
  await sideBySide();
}

/**
 * The engine against PyTorch, `--rounds` times for each backbone and allocator. Each measurement is a
 * fresh child process; within a round the allocators run in turn and, for each, the engine and
 * PyTorch back to back, the engine first in even rounds and PyTorch first in odd ones, so a load that
 * drifts over the run falls on both sides alike.
 */
async function sideBySide(): Promise<void> {
  const rounds = Number(values.rounds);
  // Default: glibc, and jemalloc where Debian's libjemalloc2 is installed (said when it is not).
  const mallocs = values.malloc?.split(',') ?? [
    'glibc',
    ...(existsSync(ALLOCATORS.jemalloc) ? ['jemalloc'] : []),
  ];
  if (!values.malloc && mallocs.length === 1)
    console.log(`(no jemalloc row: ${ALLOCATORS.jemalloc} not found; apt-get install libjemalloc2)\n`);
  const envs = mallocs.map(allocatorEnv); // fail on a missing allocator before the first child
  console.log(
    `Training step, batch ${B} at 112x112, ArcFace s=64 m=0.5 over ${C} classes, 512-d, SGD momentum; ` +
      `${THREADS} threads; mean of ${ITERS} steps after ${WARMUP} warm-up, per process; ${rounds} round(s) ` +
      `alternating which side runs first; load average at start ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
  );
  const tfjs = await tfjsStatus();
  const rows: string[] = [];
  const notes: string[] = [];
  const range = (v: readonly number[]): string => {
    if (v.length === 0) return '-';
    const s = spread(v);
    return v.length === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
  };
  for (const name of values.models.split(',')) {
    for (const [m, malloc] of mallocs.entries()) {
      const eng: Timing[] = [];
      const pt: Timing[] = [];
      const perRound: number[] = [];
      const failed: string[] = [];
      for (let r = 0; r < rounds; r++) {
        let e: Timing | string = '';
        let t: Timing | string = '';
        for (const side of r % 2 ? ['torch', 'engine'] : ['engine', 'torch']) {
          if (side === 'engine') e = engineChild(name, undefined, undefined, envs[m]);
          else t = pytorch(name, envs[m]);
          const got = side === 'engine' ? e : t;
          console.error(
            `  ${name} ${malloc} round ${r + 1} ${side}: ${typeof got === 'string' ? got : `${fmt(got.step)} ms/step, fwd ${fmt(got.forward)} ms, ${fmt(got.peakMB)} MB`}`,
          );
        }
        if (typeof e === 'string') failed.push(`engine: ${e}`);
        else eng.push(e);
        if (typeof t === 'string') failed.push(`PyTorch: ${t}`);
        else pt.push(t);
        if (typeof e !== 'string' && typeof t !== 'string') perRound.push(e.step / t.step);
      }
      const ratio =
        eng.length && pt.length
          ? (spread(eng.map((x) => x.step)).median / spread(pt.map((x) => x.step)).median).toFixed(2) +
            (perRound.length > 1
              ? ` (${spread(perRound).min.toFixed(2)}-${spread(perRound).max.toFixed(2)})`
              : '')
          : '-';
      const stepCell = (ts: Timing[]): string =>
        ts.length
          ? `${range(ts.map((x) => x.step))}, ${ips(spread(ts.map((x) => x.step)).median)} img/s`
          : '-';
      rows.push(
        `| ${name} | ${malloc} | ${stepCell(eng)} | ${range(eng.map((x) => x.forward))} | ${range(eng.map((x) => x.peakMB))} | ` +
          `${stepCell(pt)} | ${range(pt.map((x) => x.forward))} | ${range(pt.map((x) => x.peakMB))} | ${ratio} |`,
      );
      const e0 = eng[0];
      if (e0 && m === 0)
        notes.push(
          `  ${name}: engine graph ${e0.nodes} nodes, compiled in ${fmt(e0.compileMs!)} ms; losses engine ${e0.loss.toFixed(3)}` +
            (pt[0] ? `, PyTorch ${pt[0].loss.toFixed(3)} (own init and data)` : ''),
        );
      if (failed.length) notes.push(`  ${name} ${malloc}: ${[...new Set(failed)].join('; ')}`);
    }
  }
  console.log(
    '| backbone | malloc | engine ms/step | engine fwd ms | engine peak MB | PyTorch ms/step | PyTorch fwd ms | PyTorch peak MB | engine/PyTorch |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log(
    `\nCells: median (min-max) over rounds; engine/PyTorch: ratio of median ms/step (per-round min-max).\n` +
      `tfjs-wasm: ${tfjs}\n${notes.join('\n')}`,
  );
}
