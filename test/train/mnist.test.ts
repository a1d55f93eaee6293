/**
 * The CI-sized end-to-end check: a small CNN with an ArcFace head trained on MNIST digits 0-7.
 * All ~8,000 digits of the `mnist` package's 0-7, 80/20 stratified split (about 6,460 train,
 * 1,615 held out), channels [8, 16, 32], 16-d embeddings, ArcFace s = 30, m = 0.5, SGD momentum
 * 0.9, lr 0.1 cosine with 10 warm-up steps, batch 64, 2 epochs (200 steps). About 15-20 s on the
 * 2-core dev machine; held-out accuracy measured 97.3%.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mnistSplit } from '../../src/data/index.js';
import { presets } from '../../src/heads/index.js';
import { type EpochRecord, METRICS_FILE, embedDataset, train } from '../../src/train/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('small CNN + ArcFace on MNIST 0-7', () => {
  it('reaches >= 95% held-out accuracy in 2 epochs, logging metrics per step and epoch', async () => {
    const out = await mkdtemp(join(tmpdir(), 'arcface-train-'));
    dirs.push(out);
    const { train: trainSet, heldOut } = mnistSplit({ heldOutFraction: 0.2, seed: 0 });
    const epochs: EpochRecord[] = [];
    const result = await train(
      trainSet,
      {
        backbone: { name: 'small-cnn', embeddingDim: 16, channels: [8, 16, 32] },
        head: presets.arcface({ s: 30, m2: 0.5 }),
        optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
        schedule: { kind: 'cosine', lr: 0.1, warmupSteps: 10 },
        epochs: 2,
        batchSize: 64,
        seed: 1,
      },
      { outDir: out, validation: heldOut, quiet: true, onEpoch: (r) => void epochs.push(r) },
    );
    const steps = 2 * Math.floor(trainSet.size / 64);
    expect(result.steps).toBe(steps);
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1]);
    // Training reduces the loss: the last 20 steps average well below the first 20.
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const losses = result.history.map((h) => h.loss);
    expect(mean(losses.slice(-20))).toBeLessThan(0.5 * mean(losses.slice(0, 20)));

    const embedded = await embedDataset(result.model, heldOut, { batchSize: 256 });
    expect(embedded.count).toBe(heldOut.size);
    expect(embedded.accuracy).toBeGreaterThanOrEqual(0.95);
    // The trainer's own per-epoch validation ran the same eval graph on the same values.
    expect(epochs[1].valAccuracy).toBeCloseTo(embedded.accuracy, 6);

    const lines = (await readFile(join(out, METRICS_FILE), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step')).toHaveLength(steps);
    expect(lines.filter((l) => l.type === 'epoch')).toHaveLength(2);
    expect(result.checkpoint).toBe(join(out, 'last.ckpt'));
  });
});
