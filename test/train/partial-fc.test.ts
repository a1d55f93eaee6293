/**
 * Partial FC from training: at sample rate 0.1 each step updates the centre (and momentum) of every
 * class in its batch, touches only the sampled rows, and leaves every other class centre bit for
 * bit as it was (SGD weight decay included: a class left out is not decayed either).
 */
import { describe, expect, it } from 'vitest';
import { MemoryDataset } from '../../src/data/index.js';
import { presets, seededRandom } from '../../src/heads/index.js';
import {
  HEAD_PREFIX,
  type TrainConfig,
  buildArchitecture,
  compileStep,
  initOptimizerState,
  initialTensors,
  train,
} from '../../src/train/index.js';

const C = 100;
const D = 8;
const IN = 12;
const B = 8;

/** 100 classes, 4 samples each, around random class means. */
function dataset(): MemoryDataset {
  const rand = seededRandom(3);
  const means = Array.from({ length: C }, () => Array.from({ length: IN }, () => rand() * 2 - 1));
  const labels = Int32Array.from({ length: C * 4 }, (_, i) => i % C);
  const x = new Float32Array(labels.length * IN);
  labels.forEach((l, i) => {
    for (let k = 0; k < IN; k++) x[i * IN + k] = means[l][k] + 0.1 * (rand() - 0.5);
  });
  return new MemoryDataset({
    x,
    labels,
    sampleShape: [IN],
    classNames: Array.from({ length: C }, (_, i) => `id${i}`),
  });
}

const config: TrainConfig = {
  backbone: { name: 'mlp', embeddingDim: D, hidden: [16] },
  head: presets.arcface({ s: 16, m2: 0.3 }),
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'constant', lr: 0.1 },
  epochs: 1,
  batchSize: B,
  seed: 1,
  sampleRate: 0.1,
};

const row = (w: Float32Array, c: number): Float32Array => w.subarray(c * D, (c + 1) * D);
const same = (a: Float32Array, b: Float32Array): boolean => a.every((v, i) => Object.is(v, b[i]));

describe('Partial FC in the training step', () => {
  it('each step updates every positive centre, only sampled rows change, others stay bit-exact', async () => {
    const ds = dataset();
    const { backbone, head } = buildArchitecture(config, ds.sampleShape, C);
    const step = await compileStep(
      { backbone, head, optimizer: config.optimizer, batch: B, sampleShape: ds.sampleShape, sampleRate: 0.1 },
      { threads: 1 },
    );
    expect(step.classesPerStep).toBe(10);
    const init = initialTensors(backbone, head, 1);
    const state = { ...init, state: initOptimizerState(config.optimizer, init.params) };
    const w0 = state.params.get(`${HEAD_PREFIX}.weight`).data.slice();
    const everSampled = new Set<number>();
    let k = 0;
    for await (const batch of ds.batches({
      batchSize: B,
      seed: 1,
      epoch: 0,
      shuffle: true,
      dropLast: true,
    })) {
      if (k++ === 4) break;
      const before = state.params.get(`${HEAD_PREFIX}.weight`).data.slice();
      const r = await step.run(state, { x: batch.x, labels: batch.labels, lr: 0.1, t: k, seed: k });
      expect(Number.isFinite(r.loss)).toBe(true);
      const sampled = new Set([...r.sampled!].map(Number));
      expect(sampled.size).toBe(10);
      const positives = new Set([...batch.labels].map(Number));
      const after = state.params.get(`${HEAD_PREFIX}.weight`).data;
      const momentum = state.state.get(`momentum.${HEAD_PREFIX}.weight`).data;
      for (const c of positives) {
        expect(sampled.has(c)).toBe(true);
        expect(same(row(after, c), row(before, c)), `positive class ${c} at step ${k}`).toBe(false);
        expect(row(momentum, c).some((v) => v !== 0)).toBe(true);
      }
      for (let c = 0; c < C; c++) {
        if (!sampled.has(c))
          expect(same(row(after, c), row(before, c)), `class ${c} at step ${k}`).toBe(true);
      }
      for (const c of sampled) everSampled.add(c);
    }
    const w = state.params.get(`${HEAD_PREFIX}.weight`).data;
    const momentum = state.state.get(`momentum.${HEAD_PREFIX}.weight`).data;
    const never = [...Array(C).keys()].filter((c) => !everSampled.has(c));
    // 4 steps of 10 classes leave most of the 100 never sampled.
    expect(never.length).toBeGreaterThanOrEqual(60);
    for (const c of never) {
      expect(same(row(w, c), row(w0, c))).toBe(true);
      expect(row(momentum, c).every((v) => v === 0)).toBe(true);
    }
  });

  it('train() with config.sampleRate uses the sampled head and keeps unsampled centres', async () => {
    const ds = dataset();
    const starts: number[] = [];
    const r = await train(ds, config, {
      threads: 1,
      stopAfterSteps: 3,
      onStart: (s) => void starts.push(s.classesPerStep),
    });
    expect(starts).toEqual([10]);
    expect(r.history).toHaveLength(3);
    expect(r.history.every((h) => Number.isFinite(h.loss))).toBe(true);
    const { backbone, head } = buildArchitecture(config, ds.sampleShape, C);
    const w0 = initialTensors(backbone, head, 1).params.get(`${HEAD_PREFIX}.weight`).data;
    const w = r.model.params.get(`${HEAD_PREFIX}.weight`).data;
    const positives = new Set<number>();
    let k = 0;
    for await (const batch of ds.batches({
      batchSize: B,
      seed: 1,
      epoch: 0,
      shuffle: true,
      dropLast: true,
    })) {
      if (k++ === 3) break;
      for (const l of batch.labels) positives.add(Number(l));
    }
    let unchanged = 0;
    for (let c = 0; c < C; c++) {
      const kept = same(row(w, c), row(w0, c));
      if (positives.has(c)) expect(kept, `positive class ${c}`).toBe(false);
      if (kept) unchanged++;
    }
    // At most 3 steps x 10 sampled classes moved; a full head would decay all 100.
    expect(unchanged).toBeGreaterThanOrEqual(C - 30);
  });

  it('refuses a rate outside (0, 1] and the softmax head', async () => {
    const ds = dataset();
    await expect(train(ds, { ...config, sampleRate: 0 })).rejects.toThrow(/sampleRate must be in \(0, 1\]/);
    await expect(train(ds, { ...config, head: presets.softmax() })).rejects.toThrow(/margin head/);
  });
});
