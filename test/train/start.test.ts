/** An in-memory start checkpoint (`TrainOptions.start`) trains exactly as the same checkpoint resumed from a file. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/index.js';
import { presets } from '../../src/heads/index.js';
import { type TrainConfig, loadCheckpoint, train } from '../../src/train/index.js';

const data = loadMnist({ perClass: 40 });
const config: TrainConfig = {
  backbone: { name: 'small-cnn', embeddingDim: 8, channels: [4, 8, 8] },
  head: presets.arcface({ s: 16, m2: 0.3 }),
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 3 },
  epochs: 2,
  batchSize: 32,
  seed: 3,
};

describe('train from an in-memory start', () => {
  it('gives the same steps and losses as resuming the same checkpoint from its file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-start-'));
    try {
      await train(data, config, { threads: 1, outDir: dir, stopAfterSteps: 13 });
      const path = join(dir, 'last.ckpt');
      const fromFile = await train(data, config, { threads: 1, resume: path });
      const fromMemory = await train(data, config, { threads: 1, start: await loadCheckpoint(path) });
      expect(fromMemory.history.map((h) => h.step)).toEqual([14, 15, 16, 17, 18, 19, 20]);
      expect(fromMemory.history.map((h) => h.loss)).toEqual(fromFile.history.map((h) => h.loss));
      expect(fromMemory.model.params.get('head.weight').data).toEqual(
        fromFile.model.params.get('head.weight').data,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a start whose config differs, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-start-'));
    try {
      await train(data, config, { threads: 1, outDir: dir, stopAfterSteps: 2 });
      const start = await loadCheckpoint(join(dir, 'last.ckpt'));
      await expect(train(data, { ...config, seed: 4 }, { threads: 1, start })).rejects.toThrow(
        /cannot resume the start checkpoint: its config differs in seed/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
