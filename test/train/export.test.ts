/** Export: a standalone .onnx that ONNX Runtime loads and that embeds like the engine's eval graph. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/index.js';
import * as E from '../../src/engine/index.js';
import { presets } from '../../src/heads/index.js';
import { createBackbone } from '../../src/nn/index.js';
import {
  type Model,
  compileEval,
  exportCheckpoint,
  exportModel,
  loadCheckpoint,
  saveCheckpoint,
  train,
} from '../../src/train/index.js';

let dir: string;
let model: Model;
let ckptPath: string;
const data = loadMnist({ perClass: 24 });
const B = 8;
// Eight real digits as one batch.
const x = data.x.slice(0, B * 784);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arcface-export-'));
  // A few steps so BatchNorm's running statistics and affine parameters are far from their init.
  const r = await train(
    data,
    {
      backbone: { name: 'small-cnn', embeddingDim: 12, channels: [4, 8, 8] },
      head: presets.arcface({ s: 16, m2: 0.3 }),
      optimizer: { kind: 'sgd' },
      schedule: { kind: 'constant', lr: 0.05 },
      epochs: 2,
      batchSize: 32,
      seed: 5,
    },
    { threads: 1, outDir: dir },
  );
  model = r.model;
  ckptPath = r.checkpoint!;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runOnnx(bytes: Uint8Array | string, input: Float32Array, batch = B): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes as Uint8Array);
  const out = await session.run({ input: new ort.Tensor('float32', input, [batch, 1, 28, 28]) });
  return out.embedding.data as Float32Array;
}

function opTypes(bytes: Uint8Array): string[] {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  return (model.graph?.node ?? []).map((n) => n.opType ?? '');
}

const maxDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('export', () => {
  it('matches the eval graph (max abs diff < 1e-4), with and without BatchNorm folding', async () => {
    const ev = await compileEval(model, B);
    const want = (await ev.run(model, x)).embeddings;
    const running = model.buffers.get('bn.running_var').data;
    expect(running.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);

    const plain = exportModel({ ...model }, { batch: B, foldBatchNorm: false });
    const folded = exportModel({ ...model }, { batch: B });
    expect(plain.folded).toEqual([]);
    // Each conv + BN pair and the fc + BN pair folds.
    expect([...folded.folded].sort()).toEqual(['bn', 'features.1', 'features.4', 'features.7']);
    expect(opTypes(plain.bytes).filter((t) => t === 'BatchNormalization')).toHaveLength(4);
    expect(opTypes(folded.bytes)).not.toContain('BatchNormalization');
    expect(folded.input).toEqual({ name: 'input', shape: [B, 1, 28, 28], dtype: 'float32' });

    for (const m of [plain, folded]) {
      const got = await runOnnx(m.bytes, x);
      expect(got.length).toBe(want.length);
      expect(maxDiff(got, want)).toBeLessThan(1e-4);
    }
    // The embeddings are not trivially equal across samples (a broken export could emit constants).
    expect(maxDiff(want.subarray(0, 12), want.subarray(12, 24))).toBeGreaterThan(1e-3);
  });

  it('exports a dynamic batch by default: ONNX Runtime runs it at batch 1 and 5, matching the engine', async () => {
    const m = exportModel({ ...model });
    expect(m.input.shape).toEqual([-1, 1, 28, 28]);
    expect(m.output.shape).toEqual([-1, 12]);
    const graph = onnxProto.onnx.ModelProto.decode(m.bytes).graph!;
    expect(graph.input![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    expect(graph.output![0].type!.tensorType!.shape!.dim![0].dimParam).toBe('batch');
    const session = await ort.InferenceSession.create(m.bytes);
    for (const n of [1, 5]) {
      const xs = x.slice(0, n * 784);
      const ev = await compileEval(model, n);
      const want = (await ev.run(model, xs)).embeddings;
      const got = (await session.run({ input: new ort.Tensor('float32', xs, [n, 1, 28, 28]) })).embedding;
      expect(got.dims).toEqual([n, 12]);
      expect(maxDiff(got.data as Float32Array, want)).toBeLessThan(1e-4);
    }
  });

  it('refuses to export a checkpoint holding NaN parameters', async () => {
    const ck = await loadCheckpoint(ckptPath);
    const bad = ck.params.get('bn.weight').data.slice();
    bad[1] = NaN;
    ck.params.update('bn.weight', bad);
    const nanPath = join(dir, 'nan.ckpt');
    await saveCheckpoint(nanPath, ck);
    await expect(exportCheckpoint(nanPath, join(dir, 'nan.onnx'))).rejects.toThrow(
      /non-finite values \(parameter 'bn\.weight'\)/,
    );
    await expect(stat(join(dir, 'nan.onnx'))).rejects.toThrow(/ENOENT/);
  });

  it('MobileFaceNet (grouped and depthwise convs, PReLU, GDC) exports with folded BN at parity', async () => {
    const backbone = createBackbone({ name: 'mobilefacenet', embeddingDim: 128 }, [3, 112, 112]);
    const params = backbone.initParams(11);
    const buffers = backbone.initBuffers();
    // Random BatchNorm statistics and affine parameters, so folding has something to fold.
    let k = 0;
    const wobble = (v: Float32Array, lo: number, hi: number): Float32Array =>
      v.map(() => lo + (hi - lo) * (0.5 + 0.5 * Math.sin(++k * 12.9898)));
    for (const n of buffers.names())
      buffers.update(
        n,
        wobble(buffers.get(n).data, n.endsWith('var') ? 0.5 : -0.2, n.endsWith('var') ? 2 : 0.2),
      );
    for (const n of params.names())
      if (/\.(1|3)\.(weight|bias)$/.test(n) && params.get(n).shape.length === 1)
        params.update(n, wobble(params.get(n).data, 0.5, 1.5));
    const src = { backbone, params, buffers, sampleShape: [3, 112, 112] };
    const input = Float32Array.from({ length: 3 * 112 * 112 }, (_, i) => Math.sin(i * 0.01));
    const fw = backbone.forward(E.input('x', [1, 3, 112, 112]), 'eval');
    const ev = await E.Program.compile({ outputs: { y: fw.y } }, { checkFinite: false });
    const feeds: Record<string, Float32Array> = { x: input };
    for (const v of ev.inputs)
      if (v.name !== 'x') feeds[v.name] = (params.has(v.name) ? params : buffers).get(v.name).data;
    const want = (await ev.run(feeds)).y as Float32Array;
    // The default dynamic batch, run at batch 1.
    const m = exportModel(src);
    expect(m.folded.length).toBe(
      backbone.namedModules().filter(([, x]) => x.foldRole === 'batchnorm').length,
    );
    const session = await ort.InferenceSession.create(m.bytes);
    const got = (await session.run({ input: new ort.Tensor('float32', input, [1, 3, 112, 112]) })).embedding
      .data as Float32Array;
    expect(got.length).toBe(128);
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0.1);
    expect(maxDiff(got, want)).toBeLessThan(1e-4 * Math.max(1, scale));
  });

  it('exports a checkpoint file to an .onnx file that ONNX Runtime loads from disk', async () => {
    const path = join(dir, 'model.onnx');
    const m = await exportCheckpoint(ckptPath, path, { batch: B });
    expect(m.output.shape).toEqual([B, 12]);
    const ev = await compileEval(model, B);
    const want = (await ev.run(model, x)).embeddings;
    expect(maxDiff(await runOnnx(path, x), want)).toBeLessThan(1e-4);
  });
});
