/**
 * ArcFace head (s = 64, m = 0.5), forward + backward: loss and gradients for x and W, B = 128,
 * D = 512, C in {10,000, 100,000}, the full head and Partial FC at rate 0.1 (gradient of the
 * sampled rows, InsightFace's form). Engine (ONNX Runtime, 2 intra-op threads) side by side with
 * PyTorch CPU (2 threads, InsightFace's formula) and tfjs-backend-wasm.
 *
 *   npm run bench:head [-- --iters 5 --classes 10000,100000 --tfjs-max 10000]
 *   npm run bench:head -- --profile --classes 100000     (where the engine's time goes)
 *
 * Each configuration runs in a fresh child process, so "peak MB" is that process's RSS high-water
 * mark (runtime, data and all); "+MB" is the peak minus the RSS before the data was made. "session
 * ms" is the engine's lowering plus ONNX Runtime session creation (graph optimisation included). A step
 * includes what a training step pays: W crosses into ONNX Runtime and the gradients come back into
 * JS (the engine), Partial FC sampling (all), reading the gradients out (tfjs). The engine skips the
 * runtime's NaN scan of W (checkFinite: false); labels and x are still validated.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.js';
import { printProfile, profileRuns } from './profile.js';
import {
  compileHeadStep,
  marginHead,
  presets,
  sampleClasses,
  sampledCount,
  seededRandom,
} from '../src/heads/index.js';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    classes: { type: 'string', default: '10000,100000' },
    rate: { type: 'string', default: '1' },
    iters: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    /** Largest number of classes per step tfjs is asked to do (it runs at about a tenth of the speed). */
    'tfjs-max': { type: 'string', default: '10000' },
    /** Print ONNX Runtime's per-node profile of the engine step instead of the table. */
    profile: { type: 'boolean', default: false },
  },
});

const B = 128;
const D = 512;
const S = 64;
const M = 0.5;
const THREADS = 2;
const iters = Number(values.iters);
const warmup = Number(values.warmup);

interface Result {
  readonly ms: number;
  readonly peakMB: number;
  readonly deltaMB: number;
  readonly loss: number;
  /** Engine only: lowering plus ONNX Runtime session creation, ms. */
  readonly compileMs?: number;
}

/** Seeded standard normals (xorshift32 + Box-Muller). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function labelsFor(classes: number): BigInt64Array {
  const r = seededRandom(7);
  return BigInt64Array.from({ length: B }, () => BigInt(Math.floor(r() * classes)));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMB = (): number => process.memoryUsage().rss / 2 ** 20;
const peakMB = (): number => process.resourceUsage().maxRSS / 1024;

async function timeSteps(step: () => Promise<number>): Promise<{ ms: number; loss: number }> {
  let loss = NaN;
  for (let i = 0; i < warmup; i++) loss = await step();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    loss = await step();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), loss };
}

async function engineChild(classes: number, rate: number): Promise<Result> {
  const base = rssMB();
  const x = normals(B * D, 1);
  const weight = normals(classes * D, 2);
  const labels = labelsFor(classes);
  const t0 = performance.now();
  const step = await compileHeadStep(
    {
      config: presets.arcface({ s: S, m2: M }),
      batch: B,
      dim: D,
      classes,
      sampleRate: rate < 1 ? rate : undefined,
    },
    { threads: THREADS, checkFinite: false },
  );
  const compileMs = performance.now() - t0;
  const { ms, loss } = await timeSteps(async () => (await step.run({ x, weight, labels })).loss);
  return { ms, loss, peakMB: peakMB(), deltaMB: peakMB() - base, compileMs };
}

/**
 * tfjs-core alone registers no gradient functions (they ship in the @tensorflow/tfjs umbrella
 * package, whose ESM files Node cannot load from tfjs-core's dist), so the backward pass here is
 * written out by hand: the same closed-form chain rule the engine and PyTorch derive.
 */
async function tfjsChild(classes: number, rate: number): Promise<Result> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = fileURLToPath(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));
  wasm.setWasmPaths(dist);
  await tf.setBackend('wasm');
  await tf.ready();
  const base = rssMB();
  const x = tf.tensor2d(normals(B * D, 1), [B, D]);
  const wFull = tf.tensor2d(normals(classes * D, 2), [classes, D]);
  const labels = labelsFor(classes);
  const random = seededRandom(0);
  const [cosM, sinM, th, mm] = [Math.cos(M), Math.sin(M), Math.cos(Math.PI - M), Math.sin(Math.PI - M) * M];
  const step = async (): Promise<number> => {
    let lab = labels;
    let index: BigInt64Array | undefined;
    if (rate < 1) {
      const sample = sampleClasses(labels, classes, rate, random);
      index = sample.index;
      lab = sample.remapped;
    }
    const [loss, gx, gw] = tf.tidy(() => {
      const w = index ? tf.gather(wFull, tf.tensor1d(Int32Array.from(index, Number), 'int32')) : wFull;
      const oneHot = tf.oneHot(tf.tensor1d(Int32Array.from(lab, Number), 'int32'), w.shape[0]);
      const xNorm = tf.norm(x, 'euclidean', 1, true);
      const wNorm = tf.norm(w, 'euclidean', 1, true);
      const xn = tf.div(x, xNorm);
      const wn = tf.div(w, wNorm);
      const cos = tf.matMul(xn, wn, false, true);
      const t = tf.sum(tf.mul(cos, oneHot), 1, true);
      const sin2 = tf.sub(1, tf.mul(t, t));
      const sin = tf.sqrt(tf.clipByValue(sin2, 1e-6, 1));
      const keep = tf.greater(t, th);
      const target = tf.where(keep, tf.sub(tf.mul(t, cosM), tf.mul(sin, sinM)), tf.sub(t, mm));
      const logits = tf.mul(tf.add(cos, tf.mul(oneHot, tf.sub(target, t))), S);
      const logp = tf.logSoftmax(logits);
      const loss = tf.div(tf.neg(tf.sum(tf.mul(logp, oneHot))), B);
      // Backward, closed form.
      const dLogits = tf.div(tf.sub(tf.exp(logp), oneHot), B);
      const dTarget = tf.mul(tf.sum(tf.mul(dLogits, oneHot), 1, true), S);
      const inRange = tf.logicalAnd(tf.greaterEqual(sin2, 1e-6), tf.lessEqual(sin2, 1));
      const dPhi = tf.add(cosM, tf.where(inRange, tf.mul(tf.div(t, sin), sinM), tf.zerosLike(t)));
      const dT = tf.mul(dTarget, tf.where(keep, dPhi, tf.onesLike(t)));
      const dCos = tf.add(tf.mul(dLogits, S), tf.mul(oneHot, tf.sub(dT, dTarget)));
      const dXn = tf.matMul(dCos, wn);
      const dWn = tf.matMul(dCos, xn, true, false);
      const gx = tf.div(tf.sub(dXn, tf.mul(xn, tf.sum(tf.mul(dXn, xn), 1, true))), xNorm);
      const gw = tf.div(tf.sub(dWn, tf.mul(wn, tf.sum(tf.mul(dWn, wn), 1, true))), wNorm);
      return [loss, gx, gw];
    });
    const value = (await loss.data())[0];
    await gx.data();
    await gw.data();
    tf.dispose([loss, gx, gw]);
    return value;
  };
  const { ms, loss } = await timeSteps(step);
  return { ms, loss, peakMB: peakMB(), deltaMB: peakMB() - base };
}

/** PyTorch side: InsightFace's CombinedMarginLoss formula (sqrt form + fall-back) and partial_fc sampling. */
const TORCH_SCRIPT = String.raw`
import json, math, resource, statistics, sys, time
try:
    import torch
except ImportError:
    print("RESULT " + json.dumps({"missing": True})); sys.exit(0)
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
B, D, C, rate, s, m = a["B"], a["D"], a["C"], a["rate"], a["s"], a["m"]
def rss():
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize() / 2**20
base = rss()
g = torch.Generator().manual_seed(0)
x = torch.randn(B, D, generator=g).requires_grad_()
W = torch.randn(C, D, generator=g).requires_grad_()
labels = torch.randint(0, C, (B,), generator=g)
cos_m, sin_m, th, mm = math.cos(m), math.sin(m), math.cos(math.pi - m), math.sin(math.pi - m) * m
S = math.ceil(rate * C)
def step():
    x.grad = None; W.grad = None
    if rate < 1:
        with torch.no_grad():
            positive = torch.unique(labels, sorted=True)
            perm = torch.rand(C)
            perm[positive] = 2.0
            index = torch.topk(perm, k=S)[1].sort()[0]
            lab = torch.searchsorted(index, labels)
        w = W.detach()[index].requires_grad_()
    else:
        w, lab = W, labels
    cos = torch.nn.functional.linear(torch.nn.functional.normalize(x), torch.nn.functional.normalize(w))
    rows = torch.arange(B)
    t = cos[rows, lab]
    sin = torch.sqrt((1.0 - t * t).clamp(1e-6, 1))
    target = torch.where(t > th, t * cos_m - sin * sin_m, t - mm)
    logits = cos.clone()
    logits[rows, lab] = target
    loss = torch.nn.functional.cross_entropy(logits * s, lab)
    loss.backward()
    return loss.item(), (x.grad, w.grad)
for _ in range(a["warmup"]): step()
times = []
for _ in range(a["iters"]):
    t0 = time.perf_counter(); loss, _ = step(); times.append((time.perf_counter() - t0) * 1000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"ms": statistics.median(times), "loss": loss, "peakMB": peak, "deltaMB": peak - base}))
`;

type Backend = 'engine' | 'pytorch' | 'tfjs';

function runChild(backend: Backend, classes: number, rate: number): Result | string {
  const common = { encoding: 'utf8' as const, maxBuffer: 1 << 24 };
  let out;
  if (backend === 'pytorch') {
    if (!existsSync('/usr/bin/python3')) return 'skipped: python3-torch missing';
    const args = { B, D, C: classes, rate, s: S, m: M, threads: THREADS, iters, warmup };
    out = spawnSync('/usr/bin/python3', ['-c', TORCH_SCRIPT, JSON.stringify(args)], common);
  } else {
    const self = fileURLToPath(import.meta.url);
    const flags = ['--child', backend, '--classes', String(classes), '--rate', String(rate)];
    flags.push('--iters', String(iters), '--warmup', String(warmup));
    out = spawnSync(process.execPath, ['--import', 'tsx', self, ...flags], common);
  }
  const line = out.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) {
    const err = (out.stderr || out.error?.message || '').trim().split('\n').slice(-3);
    return `failed: ${err.map((l) => l.slice(0, 200)).join(' ')}`;
  }
  const r = JSON.parse(line.slice(7)) as Result & { missing?: boolean };
  return r.missing ? 'skipped: python3-torch missing' : r;
}

/** Where the engine's time goes: ONNX Runtime's profiler, kernel time per node, last runs only. */
async function profileEngine(classes: number): Promise<void> {
  const x = E.input('x', [B, D]);
  const weight = E.input('W', [classes, D]);
  const labels = E.input('labels', [B], 'int64');
  const head = marginHead({ x, weight, labels }, presets.arcface({ s: S, m2: M }));
  const [gradX, gradW] = E.grad(head.loss, [x, weight]);
  const graph = E.lower({ outputs: { loss: head.loss, gradX, gradW } });
  const feeds = {
    x: { data: normals(B * D, 1), dims: [B, D] },
    W: { data: normals(classes * D, 2), dims: [classes, D] },
    labels: { data: labelsFor(classes), dims: [B] },
  };
  const p = await profileRuns(graph.bytes, feeds, { threads: THREADS, warmup, iters, groupBy: 'node' });
  printProfile(`C=${classes}`, p);
}

async function main(): Promise<void> {
  if (values.child) {
    const classes = Number(values.classes);
    const rate = Number(values.rate);
    const r = values.child === 'tfjs' ? await tfjsChild(classes, rate) : await engineChild(classes, rate);
    console.log(`RESULT ${JSON.stringify(r)}`);
    return;
  }
  const classList = values.classes.split(',').map(Number);
  if (values.profile) {
    for (const classes of classList) await profileEngine(classes);
    return;
  }
  const tfjsMax = Number(values['tfjs-max']);
  console.log(
    `ArcFace head fwd+bwd, B=${B}, D=${D}, s=${S}, m=${M}; median of ${iters} after ${warmup} warm-up; ${THREADS} threads\n`,
  );
  const rows: string[] = [];
  rows.push(
    '| C | head | classes/step | engine session ms | engine ms | PyTorch ms | tfjs-wasm ms | engine/PyTorch | engine peak MB (+MB) | PyTorch peak MB (+MB) | tfjs peak MB (+MB) |',
  );
  rows.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const classes of classList) {
    for (const rate of [1, 0.1]) {
      const perStep = rate < 1 ? sampledCount(classes, rate) : classes;
      const e = runChild('engine', classes, rate);
      const p = runChild('pytorch', classes, rate);
      const t =
        perStep <= tfjsMax ? runChild('tfjs', classes, rate) : `n/a (> --tfjs-max ${tfjsMax} classes/step)`;
      const ms = (r: Result | string): string => (typeof r === 'string' ? r : r.ms.toFixed(1));
      const mem = (r: Result | string): string =>
        typeof r === 'string' ? 'n/a' : `${r.peakMB.toFixed(0)} (+${r.deltaMB.toFixed(0)})`;
      const ratio = typeof e !== 'string' && typeof p !== 'string' ? (e.ms / p.ms).toFixed(2) : 'n/a';
      const head = rate < 1 ? `Partial FC ${rate}` : 'full';
      rows.push(
        `| ${classes.toLocaleString('en')} | ${head} | ${perStep.toLocaleString('en')} | ${typeof e === 'string' ? 'n/a' : (e.compileMs ?? NaN).toFixed(0)} | ${ms(e)} | ${ms(p)} | ${ms(t)} | ${ratio} | ${mem(e)} | ${mem(p)} | ${mem(t)} |`,
      );
      console.error(rows[rows.length - 1]);
      const losses = [e, p, t].map((r) => (typeof r === 'string' ? 'n/a' : r.loss.toFixed(3)));
      console.error(
        `  losses (engine, PyTorch, tfjs; engine and tfjs share their data, PyTorch draws its own): ${losses.join(', ')}`,
      );
    }
  }
  console.log(rows.join('\n'));
}

await main();
