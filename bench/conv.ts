/**
 * Convolution forward and forward + backward (dx and dw) per call: the engine (ONNX Runtime, 2
 * intra-op threads) with its chosen lowering and with the textbook one, side by side with PyTorch
 * CPU (2 threads). Shapes are the DESIGN.md layer at batch 16 plus a strided, a depthwise and a
 * pointwise layer.
 *
 *   npx tsx bench/conv.ts [--iters 5] [--no-reference]
 *
 * Times are medians in ms. The engine's times include what a training step pays at the JS
 * boundary: feeding x, w and dy, and reading dx and dw back. PyTorch is skipped with a message when
 * /usr/bin/python3 cannot import torch.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.js';

const { values } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    'no-reference': { type: 'boolean', default: false },
  },
});
const ITERS = Number(values.iters);
const THREADS = 2;

interface Layer {
  readonly name: string;
  readonly x: readonly [number, number, number, number];
  readonly w: readonly [number, number, number, number];
  readonly strides: number;
  readonly pads: number;
  readonly group: number;
}

const N = 16;
const layers: readonly Layer[] = [
  { name: '3x3 s1 64->64 56x56', x: [N, 64, 56, 56], w: [64, 64, 3, 3], strides: 1, pads: 1, group: 1 },
  { name: '3x3 s2 64->128 56x56', x: [N, 64, 56, 56], w: [128, 64, 3, 3], strides: 2, pads: 1, group: 1 },
  { name: 'dw 3x3 s1 64 56x56', x: [N, 64, 56, 56], w: [64, 1, 3, 3], strides: 1, pads: 1, group: 64 },
  { name: 'dw 3x3 s2 64 56x56', x: [N, 64, 56, 56], w: [64, 1, 3, 3], strides: 2, pads: 1, group: 64 },
  { name: '1x1 s1 64->128 28x28', x: [N, 64, 28, 28], w: [128, 64, 1, 1], strides: 1, pads: 0, group: 1 },
  // MobileFaceNet's conv2_dw: 64 groups of 2 channels.
  { name: 'g64 3x3 s1 128 56x56', x: [N, 128, 56, 56], w: [128, 2, 3, 3], strides: 1, pads: 1, group: 64 },
];

/** Seeded uniform values in [-0.5, 0.5). */
function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeProgram(p: E.Program, feeds: E.Feeds): Promise<number> {
  await p.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    const t0 = performance.now();
    await p.run(feeds);
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

interface EngineTimes {
  readonly fwd: number;
  readonly step: number;
  readonly stepReference?: number;
}

async function engine(l: Layer): Promise<EngineTimes> {
  const opts = { checkFinite: false, threads: THREADS };
  const conv = { strides: l.strides, pads: l.pads, group: l.group };
  const x = E.input('x', l.x);
  const w = E.input('w', l.w);
  const xv = uniform(E.sizeOf(l.x), 1);
  const wv = uniform(E.sizeOf(l.w), 2);
  const y = E.conv2d(x, w, conv);
  const fwd = await timeProgram(await E.Program.compile({ outputs: { y } }, opts), { x: xv, w: wv });
  const dyv = uniform(y.size, 3);
  const step = async (lowering: E.ConvLowering): Promise<number> => {
    const yl = E.conv2d(x, w, { ...conv, lowering });
    const dy = E.input('dy', yl.shape);
    const [dx, dw] = E.grad(yl, [x, w], dy);
    // The scalar keeps the forward conv in the graph without copying y back to JS.
    const outputs = { s: E.reduceSum(yl), dx, dw };
    return timeProgram(await E.Program.compile({ outputs }, opts), { x: xv, w: wv, dy: dyv });
  };
  return {
    fwd,
    step: await step('auto'),
    stepReference: values['no-reference'] ? undefined : await step('reference'),
  };
}

const TORCH_SCRIPT = `
import json, sys, time
import torch
torch.set_num_threads(${THREADS})
layers = json.loads(sys.argv[1]); iters = int(sys.argv[2])
def med(f):
    f()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1000)
    return sorted(ts)[len(ts) // 2]
out = []
for l in layers:
    x = torch.rand(*l['x']) - 0.5
    w = torch.rand(*l['w']) - 0.5
    conv = lambda a, b: torch.nn.functional.conv2d(a, b, stride=l['strides'], padding=l['pads'], groups=l['group'])
    def fwd():
        with torch.no_grad():
            conv(x, w)
    xg = x.clone().requires_grad_(True); wg = w.clone().requires_grad_(True)
    dy = torch.rand_like(conv(x, w)) - 0.5
    def step():
        xg.grad = None; wg.grad = None
        conv(xg, wg).backward(dy)
    out.append({'fwd': med(fwd), 'step': med(step)})
print(json.dumps({'version': torch.__version__, 'results': out}))
`;

interface TorchResult {
  readonly version: string;
  readonly results: readonly { fwd: number; step: number }[];
}

/** PyTorch on the given layers, run right after the engine's turn so both see similar machine load. */
function torch(ls: readonly Layer[]): TorchResult | string {
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH_SCRIPT, JSON.stringify(ls), String(ITERS)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.error) return `PyTorch skipped: ${r.error.message}`;
  if (r.status !== 0)
    return `PyTorch skipped: ${(r.stderr || '').trim().split('\n').pop() ?? 'python failed'}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
}

const fmt = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));

async function main(): Promise<void> {
  const rows: EngineTimes[] = [];
  const torchRows: { fwd: number; step: number }[] = [];
  let t: TorchResult | string = 'PyTorch skipped';
  for (const l of layers) {
    rows.push(await engine(l));
    if (typeof t !== 'string' || rows.length === 1) {
      t = torch([l]);
      if (typeof t !== 'string') torchRows.push(t.results[0]);
    }
  }
  console.log(
    `conv per call, batch ${N}, ${THREADS} threads, median of ${ITERS}; engine = onnxruntime-node, ` +
      (typeof t === 'string' ? t : `PyTorch ${t.version} CPU`),
  );
  const header = [
    'layer',
    'engine fwd',
    'torch fwd',
    'ratio',
    'engine fwd+bwd',
    'textbook fwd+bwd',
    'torch fwd+bwd',
    'ratio',
  ];
  const table = layers.map((l, i) => {
    const e = rows[i];
    const p = torchRows[i] as { fwd: number; step: number } | undefined;
    return [
      l.name,
      fmt(e.fwd),
      fmt(p?.fwd),
      p ? (e.fwd / p.fwd).toFixed(2) : '-',
      fmt(e.step),
      fmt(e.stepReference),
      fmt(p?.step),
      p ? (e.step / p.step).toFixed(2) : '-',
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    `| ${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of table) console.log(line(r));
  console.log('ratio = engine / PyTorch (below 1: the engine is faster)');
}

await main();
