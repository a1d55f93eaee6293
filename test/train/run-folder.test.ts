/**
 * Training never loses work: a run folder has one writer (a lock with its pid; a dead writer's lock
 * is taken over), a finished or stopped run is not overwritten unless asked, a full disk while
 * writing metrics is a clear error that leaves the last checkpoint intact, leftover temporary files
 * are cleaned, a checkpoint with NaN values is never resumed from, and a set with one usable class
 * is refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderDataset, MemoryDataset } from '../../src/data/index.js';
import { presets, seededRandom } from '../../src/heads/index.js';
import {
  CHECKPOINT_FILE,
  DatasetError,
  LOCK_FILE,
  METRICS_FILE,
  MetricsWriteError,
  RunFolderError,
  type TrainConfig,
  classReport,
  loadCheckpoint,
  saveCheckpoint,
  train,
} from '../../src/train/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'arcface-runfolder-'));
  dirs.push(d);
  return d;
}

/** 4 separable classes of 8 samples: 4 steps per epoch at batch 8. */
function dataset(classes = 4): MemoryDataset {
  const rand = seededRandom(9);
  const labels = Int32Array.from({ length: classes * 8 }, (_, i) => i % classes);
  const x = Float32Array.from({ length: labels.length * 6 }, (_, i) => {
    const l = labels[Math.floor(i / 6)];
    return (i % 6 === l % 6 ? 2 : 0) + 0.2 * rand();
  });
  return new MemoryDataset({
    x,
    labels,
    sampleShape: [6],
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
  });
}

const config: TrainConfig = {
  backbone: { name: 'mlp', embeddingDim: 4, hidden: [8] },
  head: presets.arcface({ s: 8, m2: 0.2 }),
  optimizer: { kind: 'sgd' },
  schedule: { kind: 'constant', lr: 0.05 },
  epochs: 1,
  batchSize: 8,
  seed: 2,
};

const metricsLines = async (dir: string): Promise<{ type: string; step: number }[]> =>
  (await readFile(join(dir, METRICS_FILE), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number });

describe('run folder', () => {
  it('lets one of two runs into the same folder in, and refuses the other', async () => {
    const out = await tempDir();
    const ds = dataset();
    const runs = await Promise.allSettled([
      train(ds, config, { outDir: out, threads: 1 }),
      train(ds, config, { outDir: out, threads: 1 }),
    ]);
    expect(runs.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = runs.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(RunFolderError);
    expect(String(refused?.reason)).toMatch(/in use by another training run \(pid \d+/);
    // The winner's log is whole: every line parses, steps 1..4 once each.
    const steps = (await metricsLines(out)).filter((l) => l.type === 'step').map((l) => l.step);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it("takes over a dead run's lock", async () => {
    const out = await tempDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: dead }));
    const seen: (number | undefined)[] = [];
    const r = await train(dataset(), config, {
      outDir: out,
      threads: 1,
      onStart: (s) => void seen.push(s.staleLockPid),
    });
    expect(r.stopped).toBe('finished');
    expect(seen).toEqual([dead]);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('refuses a fresh run into a folder holding a run unless overwrite; cleans leftover .tmp files', async () => {
    const out = await tempDir();
    const ds = dataset();
    await train(ds, config, { outDir: out, threads: 1 });
    const before = await readFile(join(out, CHECKPOINT_FILE));
    await expect(train(ds, { ...config, seed: 3 }, { outDir: out, threads: 1 })).rejects.toThrow(
      /already holds a finished run \(1 epochs, step 4\).*--resume.*--overwrite/,
    );
    // Nothing of the earlier run was touched.
    expect((await readFile(join(out, CHECKPOINT_FILE))).equals(before)).toBe(true);

    const leftover = join(out, `${CHECKPOINT_FILE}.0badc0de.tmp`);
    await writeFile(leftover, 'half a checkpoint');
    const removed: string[] = [];
    const r = await train(
      ds,
      { ...config, seed: 3 },
      { outDir: out, threads: 1, overwrite: true, onStart: (s) => void removed.push(...s.removedTmp) },
    );
    expect(r.stopped).toBe('finished');
    expect(removed).toEqual([leftover]);
    expect(existsSync(leftover)).toBe(false);
    expect((await loadCheckpoint(join(out, CHECKPOINT_FILE))).config.seed).toBe(3);
    expect((await metricsLines(out)).filter((l) => l.type === 'epoch')).toHaveLength(1);
  });

  it('a full disk while writing metrics is a MetricsWriteError; the last checkpoint stays intact', async () => {
    if (!existsSync('/dev/full')) {
      console.warn('skipped: /dev/full is missing on this system');
      return;
    }
    const out = await tempDir();
    const ds = dataset();
    await train(ds, config, { outDir: out, threads: 1 });
    const ckpt = join(out, CHECKPOINT_FILE);
    const before = await readFile(ckpt);
    // Every write to /dev/full fails with ENOSPC, like a full disk.
    await rm(join(out, METRICS_FILE));
    await symlink('/dev/full', join(out, METRICS_FILE));
    const err = await train(ds, { ...config, epochs: 2 }, { outDir: out, threads: 1, resume: ckpt }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MetricsWriteError);
    expect(String(err)).toMatch(/ENOSPC.*\(the disk is full\)\. The last checkpoint \(step 4\) is intact/);
    expect((await readFile(ckpt)).equals(before)).toBe(true);
    expect((await loadCheckpoint(ckpt)).meta.step).toBe(4);
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp') || f === LOCK_FILE)).toEqual([]);
  });

  it('never resumes from a checkpoint holding NaN values', async () => {
    const out = await tempDir();
    const ds = dataset();
    const r = await train(ds, config, { outDir: out, threads: 1, stopAfterSteps: 2 });
    const ck = await loadCheckpoint(r.checkpoint!);
    const w = ck.params.get('head.weight').data.slice();
    w[0] = NaN;
    ck.params.update('head.weight', w);
    await saveCheckpoint(r.checkpoint!, ck);
    await expect(train(ds, config, { outDir: out, threads: 1, resume: r.checkpoint })).rejects.toThrow(
      /cannot resume .* non-finite values \(params 'head\.weight'\)/,
    );
  });
});

describe('training set checks', () => {
  it('refuses a set with one class (it would train to loss 0, accuracy 1)', async () => {
    const one = new MemoryDataset({
      x: new Float32Array(16 * 6).map((_, i) => i % 7),
      labels: new Int32Array(16),
      sampleShape: [6],
      classNames: ['only'],
    });
    await expect(train(one, config)).rejects.toThrow(DatasetError);
    await expect(train(one, config)).rejects.toThrow(/only one class with samples \('only'\)/);
  });

  it('names a class whose every file is corrupt and counts the skipped files', async () => {
    const root = await tempDir();
    const png = (v: number): Promise<Buffer> =>
      sharp({ create: { width: 12, height: 12, channels: 3, background: { r: v, g: 80, b: 200 - v } } })
        .png()
        .toBuffer();
    for (const [name, good, bad] of [
      ['alice', 3, 1],
      ['bob', 0, 3],
    ] as const) {
      await mkdir(join(root, name));
      for (let i = 0; i < good; i++) await writeFile(join(root, name, `${i}.png`), await png(40 * i + 10));
      for (let i = 0; i < bad; i++) await writeFile(join(root, name, `bad${i}.png`), 'not an image');
    }
    const ds = await FolderDataset.open(root, { size: 8, workers: 0, validate: true });
    try {
      const report = classReport(ds);
      expect(report.classNames).toEqual(['alice', 'bob']);
      expect(report.counts).toEqual([3, 0]);
      expect(report.empty).toEqual(['bob']);
      expect(report.skipped.map((s) => s.path.split('/').slice(-2).join('/')).sort()).toEqual([
        'alice/bad0.png',
        'bob/bad0.png',
        'bob/bad1.png',
        'bob/bad2.png',
      ]);
      // Two class folders, one usable class: refused, naming the empty class and the skips.
      await expect(train(ds, { ...config, batchSize: 2 })).rejects.toThrow(
        /only one class with samples \('alice'\).*without a usable sample: bob; 4 files were skipped/,
      );
    } finally {
      await ds.close();
    }
  });
});
