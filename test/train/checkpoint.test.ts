/** Checkpoints: exact resume, the NaN stop that keeps the last good checkpoint, atomic writes. */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/index.js';
import { presets } from '../../src/heads/index.js';
import { ParamStore } from '../../src/nn/index.js';
import {
  type TrainConfig,
  TrainingDivergedError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  train,
} from '../../src/train/index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'arcface-ckpt-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// 40 digits per class, 8 classes: 320 samples, 10 steps per epoch at batch 32.
const data = loadMnist({ perClass: 40 });

const base = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  backbone: { name: 'small-cnn', embeddingDim: 8, channels: [4, 8, 8] },
  head: presets.arcface({ s: 16, m2: 0.3 }),
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 3 },
  epochs: 2,
  batchSize: 32,
  seed: 3,
  ...over,
});

describe('resume', () => {
  for (const optimizer of [{ kind: 'sgd' as const }, { kind: 'adamw' as const, weightDecay: 0.01 }]) {
    it(`continues the uninterrupted loss curve to 1e-5 (${optimizer.kind}, stopped mid-epoch)`, async () => {
      const config = base({
        optimizer,
        schedule: { kind: 'cosine', lr: optimizer.kind === 'sgd' ? 0.05 : 0.002, warmupSteps: 3 },
      });
      const full = await train(data, config, { quiet: true, threads: 1 });
      expect(full.steps).toBe(20);

      const out = await tempDir();
      const first = await train(data, config, { quiet: true, threads: 1, outDir: out, stopAfterSteps: 13 });
      expect(first.stopped).toBe('stopAfterSteps');
      const ck = await loadCheckpoint(join(out, 'last.ckpt'));
      expect(ck.meta).toMatchObject({ step: 13, epoch: 1, batchInEpoch: 3 });
      // BatchNorm running statistics travel with the checkpoint, not only parameters.
      expect(ck.buffers.names().some((n) => n.endsWith('running_var'))).toBe(true);

      const resumed = await train(data, config, {
        quiet: true,
        threads: 1,
        outDir: out,
        resume: join(out, 'last.ckpt'),
      });
      expect(resumed.steps).toBe(20);
      expect(resumed.history.map((h) => h.step)).toEqual([14, 15, 16, 17, 18, 19, 20]);
      for (const h of resumed.history) {
        expect(Math.abs(h.loss - full.history[h.step - 1].loss)).toBeLessThan(1e-5);
        expect(h.lr).toBe(full.history[h.step - 1].lr);
      }
      // The interrupted run's first 13 steps were the same as well.
      first.history.forEach((h, i) => expect(Math.abs(h.loss - full.history[i].loss)).toBeLessThan(1e-5));
      // The metrics log has each step once, in order, after the resume.
      const log = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(log.filter((l) => l.type === 'step').map((l) => l.step)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });
  }

  it('replays dropout masks exactly (they are drawn from the run seed and the step)', async () => {
    const config = base({ backbone: { name: 'mlp', embeddingDim: 8, hidden: [32], dropout: 0.5 } });
    const full = await train(data, config, { quiet: true, threads: 1 });
    const out = await tempDir();
    await train(data, config, { quiet: true, threads: 1, outDir: out, stopAfterSteps: 6 });
    const resumed = await train(data, config, { quiet: true, threads: 1, resume: join(out, 'last.ckpt') });
    for (const h of resumed.history)
      expect(Math.abs(h.loss - full.history[h.step - 1].loss)).toBeLessThan(1e-5);
    // Dropout is live: another seed gives another loss curve from the same start.
    const other = await train(data, { ...config, seed: 4 }, { quiet: true, threads: 1, stopAfterSteps: 3 });
    expect(other.history[2].loss).not.toBeCloseTo(full.history[2].loss, 3);
  });

  it('refuses to resume with a different architecture', async () => {
    const out = await tempDir();
    await train(data, base({ epochs: 1 }), { quiet: true, threads: 1, outDir: out, stopAfterSteps: 2 });
    const other = base({ epochs: 1, backbone: { name: 'small-cnn', embeddingDim: 4, channels: [4, 8, 8] } });
    await expect(train(data, other, { quiet: true, resume: join(out, 'last.ckpt') })).rejects.toThrow(
      /config differs in backbone/,
    );
  });
});

describe('divergence', () => {
  it('stops on a NaN/Inf loss with a clear message and keeps the last good checkpoint', async () => {
    const out = await tempDir();
    // lr 0.05 for 4 steps, then 5e28: the update explodes and the loss stops being finite.
    const config = base({ schedule: { kind: 'step', lr: 0.05, milestones: [4], gamma: 1e30 } });
    let err: unknown;
    try {
      await train(data, config, { quiet: true, threads: 1, outDir: out, checkpointEvery: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const d = err as TrainingDivergedError;
    expect(d.message).toMatch(/diverged/);
    expect(d.message).toMatch(/lower learning rate/);
    expect(d.step).toBeGreaterThan(4);
    expect(d.lastCheckpoint).toBe(join(out, 'last.ckpt'));
    expect(d.message).toContain(join(out, 'last.ckpt'));

    const ck = await loadCheckpoint(join(out, 'last.ckpt'));
    expect(ck.meta.step).toBeLessThan(d.step);
    expect(ck.meta.step).toBeGreaterThanOrEqual(4);
    expect(Number.isFinite(ck.meta.lastLoss)).toBe(true);
    expect(ck.params.firstNonFinite()).toBeUndefined();
    expect(ck.buffers.firstNonFinite()).toBeUndefined();
    const log = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.at(-1).type).toBe('diverged');
  });
});

describe('checkpoint files', () => {
  const store = (n: number, v: number): ParamStore => {
    const s = new ParamStore();
    s.set(
      'a.weight',
      [n, 3],
      new Float32Array(n * 3).map((_, i) => v + i),
    );
    s.set('a.bias', [n], new Float32Array(n).fill(-v));
    return s;
  };
  const ckpt = (step: number) => ({
    config: base(),
    meta: { step, epoch: 0, batchInEpoch: step, sampleShape: [1, 28, 28], numClasses: 8, classNames: ['x'] },
    params: store(1000, step),
    state: store(1000, step + 0.5),
    buffers: store(7, -step),
  });

  it('round-trips every tensor and rejects a truncated file', () => {
    const bytes = encodeCheckpoint(ckpt(5));
    const back = decodeCheckpoint(bytes);
    expect(back.meta.step).toBe(5);
    expect(back.config).toEqual(base());
    expect([...back.params.get('a.weight').data]).toEqual([...ckpt(5).params.get('a.weight').data]);
    expect([...back.buffers.get('a.bias').data]).toEqual([...ckpt(5).buffers.get('a.bias').data]);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
    expect(() => decodeCheckpoint(new Uint8Array(40))).toThrow(/not a valid arcface-ts checkpoint/);
  });

  it('is written atomically: a concurrent reader only ever sees a complete checkpoint', async () => {
    const out = await tempDir();
    const path = join(out, 'last.ckpt');
    await saveCheckpoint(path, ckpt(0));
    let writing = true;
    const seen = new Set<number>();
    const reader = (async () => {
      while (writing) {
        // Every read must decode (a partial file would throw) and hold one consistent step.
        const ck = decodeCheckpoint(new Uint8Array(await readFile(path)));
        expect(ck.params.get('a.bias').data[0]).toBe(-ck.meta.step);
        seen.add(ck.meta.step);
      }
    })();
    for (let s = 1; s <= 30; s++) await saveCheckpoint(path, ckpt(s));
    writing = false;
    await reader;
    expect(seen.size).toBeGreaterThan(1);
    // No temporary files are left behind.
    expect(await readdir(out)).toEqual(['last.ckpt']);
    // Overwriting a corrupt file works too (nothing reads the old one first).
    await writeFile(path, 'garbage');
    await saveCheckpoint(path, ckpt(31));
    expect((await loadCheckpoint(path)).meta.step).toBe(31);
  });
});
