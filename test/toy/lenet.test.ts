import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToy } from '../../src/toy/run.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-toy-lenet-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('arcface toy default network (lenet++) on a tiny subset', () => {
  // Slow on a loaded 2-core machine: three training sessions and their ONNX Runtime compilations.
  it('trains both methods well above chance (1/8) in 3 epochs', { timeout: 600_000 }, async () => {
    const { report } = await runToy({
      perClass: 100,
      epochs: 3,
      warmupEpochs: 1,
      batchSize: 32,
      seed: 0,
      out: join(root, 'lenet'),
    });
    expect(report.training.backbone.name).toBe('lenet++');
    expect(report.training.augment).toBe(true);
    expect(report.training.warmupBias).toBe(false);
    expect(report.data.heldOutSize).toBe(8 * 20);
    // Seed 0 gave 69% (softmax) and 45% (ArcFace: one warm-up epoch, two with the margin).
    for (const m of ['softmax', 'arcface'] as const) {
      expect(report.methods[m].heldOutAccuracy).toBeGreaterThan(0.35);
    }
  });
});
