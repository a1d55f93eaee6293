/**
 * What a training step must hold at the turn from forward to backward: the bytes of the forward
 * tensors (over 1 MB) that the backward pass reads, for the engine's step graph and for PyTorch's
 * autograd (its saved-tensor hooks), MobileFaceNet and IResNet-18 at batch 64, 112x112, ArcFace over
 * 1,000 classes. Peak RSS above this is the runtime's own (allocator, arena, transients), which tells a
 * memory lever that changes what is kept from one that changes how it is held (docs/TRAINING-SPEED.md).
 *
 *   npx tsx bench/saved-activations.ts [--models mobilefacenet,iresnet18] [--batch 64] [--lowering bn=recentre]
 *
 * No step runs: the engine side walks the graph, the PyTorch side runs one forward pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.js';
import type { Tensor } from '../src/engine/tensor.js';
import { presets } from '../src/heads/index.js';
import type { BackboneSpec } from '../src/nn/index.js';
import { HEAD_PREFIX } from '../src/train/classifier.js';
import { type TrainConfig, buildArchitecture } from '../src/train/index.js';
import { PYTHON, TORCH_MODELS } from './torch-models.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'mobilefacenet,iresnet18' },
    batch: { type: 'string', default: '64' },
    classes: { type: 'string', default: '1000' },
    /** The engine's lowerings (src/engine/lowering.ts), e.g. 'bn=recentre+prelu=lean'. */
    lowering: { type: 'string', default: 'default' },
  },
});
E.setLowerings(E.parseLowerings(values.lowering));
const B = Number(values.batch);
const C = Number(values.classes);
const MB = 2 ** 20;

const bytesOf = (t: Tensor): number =>
  t.shape.reduce((a, d) => a * d, 1) *
  (t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'bool' ? 1 : 4);

/**
 * The forward tensors the step's backward reads, grouped by the op that made them. Tensor ids are
 * creation order, so everything made after the loss belongs to the backward pass.
 */
function engineSaved(name: BackboneSpec['name']): {
  total: number;
  count: number;
  byOp: Map<string, number>;
} {
  const config: TrainConfig = {
    backbone: { name, embeddingDim: 512 } as BackboneSpec,
    head: presets.arcface({ s: 64, m2: 0.5 }),
    optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
    schedule: { kind: 'constant', lr: 0.1 },
    epochs: 1,
    batchSize: B,
  };
  const { backbone, head } = buildArchitecture(config, [3, 112, 112], C);
  const fw = backbone.forward(E.input('x', [B, 3, 112, 112]), 'train');
  const h = head.build('train', { prefix: HEAD_PREFIX }, (s) =>
    head.loss(fw.y, E.input('labels', [B], 'int64'), s),
  );
  const loss = h.y.loss;
  const grads = E.grad(loss, [...fw.params.values(), ...h.params.values()]);
  const seen = new Set<number>();
  const saved = new Map<number, Tensor>();
  const stack: Tensor[] = [...grads];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t.id) || t.source.kind !== 'op') continue;
    seen.add(t.id);
    for (const u of t.source.node.inputs) {
      if (t.id > loss.id && u.id <= loss.id && u.source.kind === 'op' && bytesOf(u) > 1e6) saved.set(u.id, u);
      stack.push(u);
    }
  }
  const byOp = new Map<string, number>();
  let total = 0;
  for (const u of saved.values()) {
    const op = u.source.kind === 'op' ? u.source.node.op.name : u.source.kind;
    byOp.set(op, (byOp.get(op) ?? 0) + bytesOf(u));
    total += bytesOf(u);
  }
  return { total, count: saved.size, byOp };
}

function torchSaved(name: string): string {
  if (!existsSync(PYTHON)) return `skipped: ${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', TORCH_MODELS, name, String(B), String(C), '1', '0', '2'], {
    encoding: 'utf8',
    env: { ...process.env, MODE_SAVED: '1' },
  });
  if (r.status !== 0) return `failed: ${(r.stderr || '').trim().split('\n').at(-1)}`;
  const got = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { savedMB: number; tensors: number };
  return `${got.savedMB.toFixed(0)} MB in ${got.tensors} tensors`;
}

console.log(`Forward tensors over 1 MB kept for the backward pass, batch ${B} at 112x112, ${C} classes\n`);
console.log('| backbone | engine | engine, by producing op | PyTorch (saved-tensor hooks) |');
console.log('| --- | --- | --- | --- |');
for (const name of values.models.split(',')) {
  const e = engineSaved(name as BackboneSpec['name']);
  const ops = [...e.byOp]
    .sort((a, b) => b[1] - a[1])
    .map(([op, b]) => `${op} ${(b / MB).toFixed(0)}`)
    .join(', ');
  console.log(
    `| ${name} | ${(e.total / MB).toFixed(0)} MB in ${e.count} tensors | ${ops} | ${torchSaved(name)} |`,
  );
}
