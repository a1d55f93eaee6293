import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchOptions } from '../../src/data/dataset.js';
import { FolderDataset } from '../../src/data/folder.js';
import { SIDE, type Tree, makeTree } from './images.js';

const CLASSES = 3;
const PER_CLASS = 7;
let tree: Tree;
const open: FolderDataset[] = [];

async function openDs(opts: Parameters<typeof FolderDataset.open>[1] = {}): Promise<FolderDataset> {
  const ds = await FolderDataset.open(tree.root, { size: SIDE, workers: 0, ...opts });
  open.push(ds);
  return ds;
}

async function collect(ds: FolderDataset, opts: BatchOptions): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of ds.batches(opts)) out.push(b);
  return out;
}

/** Expected normalised CHW floats of a PNG, optionally mirrored. */
function expected(path: string, flip: boolean): Float32Array {
  const px = tree.pixels.get(path);
  if (!px) throw new Error(`no pixels for ${path}`);
  const out = new Float32Array(3 * SIDE * SIDE);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sx = flip ? SIDE - 1 - x : x;
        out[(c * SIDE + y) * SIDE + x] = (px[(y * SIDE + sx) * 3 + c] - 127.5) / 127.5;
      }
    }
  }
  return out;
}

const row = (b: Batch, r: number): Float32Array =>
  b.x.subarray(r * 3 * SIDE * SIDE, (r + 1) * 3 * SIDE * SIDE);

beforeAll(async () => {
  tree = await makeTree(CLASSES, PER_CLASS);
});

afterAll(async () => {
  for (const ds of open) await ds.close();
  await rm(tree.root, { recursive: true, force: true });
});

describe('FolderDataset', () => {
  it('lists class folders in name order and decodes PNGs exactly', async () => {
    const ds = await openDs();
    expect(ds.classNames).toEqual(['person_0', 'person_1', 'person_2']);
    expect(ds.sampleShape).toEqual([3, SIDE, SIDE]);
    expect(ds.size).toBe(CLASSES * PER_CLASS + 1); // + good.jpg; the text file is not listed
    const [b] = await collect(ds, { batchSize: 4, seed: 0, epoch: 0, shuffle: false });
    expect(Array.from(b.labels)).toEqual([0n, 0n, 0n, 0n]);
    expect(basename(ds.paths[0])).toBe('good.jpg');
    for (let r = 1; r < 4; r++) {
      const want = expected(ds.paths[r], false);
      const got = row(b, r);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
    }
  });

  it('skips and counts a truncated JPEG when validating up front', async () => {
    const ds = await openDs({ validate: true });
    expect(ds.size).toBe(CLASSES * PER_CLASS + 1);
    expect(ds.paths).not.toContain(tree.corrupt);
    expect(ds.skipped).toHaveLength(1);
    expect(ds.skipped[0].path).toBe(tree.corrupt);
    expect(ds.skipped[0].reason.length).toBeGreaterThan(0);
  });

  it('drops a truncated JPEG from its batch when found late, without crashing', async () => {
    const ds = await openDs({ cache: false, validate: false });
    expect(ds.paths).toContain(tree.corrupt);
    expect(ds.skipped).toHaveLength(0);
    const batches = await collect(ds, { batchSize: 5, seed: 3, epoch: 0 });
    const served = batches.reduce((n, b) => n + b.count, 0);
    expect(served).toBe(ds.size - 1);
    expect(ds.skipped.map((s) => s.path)).toEqual([tree.corrupt]);
    for (const b of batches) {
      // rows [0, count) real, the rest padding
      for (let r = 0; r < 5; r++) expect(b.labels[r] >= 0n).toBe(r < b.count);
    }
  });

  it('shuffles deterministically by seed, differently across epochs and seeds', async () => {
    const ds = await openDs();
    const order = async (seed: number, epoch: number): Promise<string> =>
      (await collect(ds, { batchSize: 4, seed, epoch }))
        .map((b) => Array.from(b.x.subarray(0, 4 * 3 * SIDE * SIDE).filter((_, i) => i % 97 === 0)).join(','))
        .join('|');
    const a = await order(7, 0);
    expect(await order(7, 0)).toBe(a);
    expect(await order(7, 1)).not.toBe(a);
    expect(await order(8, 0)).not.toBe(a);
  });

  it('flips horizontally when augmenting', async () => {
    const ds = await openDs({ flipProbability: 1 });
    const opts = { batchSize: 30, seed: 1, epoch: 0, shuffle: false };
    const [plain] = await collect(ds, opts);
    const [flipped] = await collect(ds, { ...opts, augment: true });
    for (let r = 1; r < plain.count; r++) {
      const want = expected(ds.paths[r], true);
      const got = row(flipped, r);
      for (let i = 0; i < want.length; i += 7) expect(got[i]).toBeCloseTo(want[i], 6);
      expect(Array.from(row(plain, r))).not.toEqual(Array.from(got));
    }
    // With p = 0.5 some rows are flipped and some are not.
    const half = await openDs({ flipProbability: 0.5 });
    const [mixed] = await collect(half, { ...opts, augment: true });
    let flips = 0;
    for (let r = 1; r < mixed.count; r++) {
      if (Array.from(row(mixed, r)).join() === Array.from(row(flipped, r)).join()) flips++;
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(mixed.count - 1);
  });

  it('pads the last batch with label -1 rows of zeros, or drops it', async () => {
    const ds = await openDs();
    const batches = await collect(ds, { batchSize: 8, seed: 0, epoch: 0 });
    expect(batches).toHaveLength(Math.ceil(ds.size / 8));
    const last = batches[batches.length - 1];
    const rem = ds.size % 8;
    expect(last.count).toBe(rem);
    for (let r = 0; r < 8; r++) expect(last.labels[r] === -1n).toBe(r >= rem);
    expect(last.x.subarray(rem * 3 * SIDE * SIDE).every((v) => v === 0)).toBe(true);
    const dropped = await collect(ds, { batchSize: 8, seed: 0, epoch: 0, dropLast: true });
    expect(dropped).toHaveLength(Math.floor(ds.size / 8));
    expect(dropped.every((b) => b.count === 8)).toBe(true);
  });

  it('prepares batches in a worker thread, identical to the in-thread path', async () => {
    const inThread = await openDs({ workers: 0 });
    const worker = await openDs({ workers: 1, prefetch: 2 });
    expect(worker.usesWorkers).toBe(true);
    const probe = await worker.prepare({
      batchSize: 1,
      rows: [{ path: worker.paths[1], slot: 1, label: 0, flip: false }],
    });
    expect(probe.threadId).not.toBe(threadId);
    expect((await inThread.prepare({ batchSize: 1, rows: [] })).threadId).toBe(threadId);
    const opts = { batchSize: 5, seed: 11, epoch: 2, augment: true };
    const a = await collect(inThread, opts);
    const b = await collect(worker, opts);
    expect(b.length).toBe(a.length);
    a.forEach((batch, k) => {
      expect(b[k].count).toBe(batch.count);
      expect(Array.from(b[k].labels)).toEqual(Array.from(batch.labels));
      expect(Buffer.from(b[k].x.buffer).equals(Buffer.from(batch.x.buffer))).toBe(true);
    });
    // The worker path skips the corrupt file too, without uncaught errors.
    const lazy = await openDs({ workers: 1, cache: false, validate: false });
    const served = (await collect(lazy, opts)).reduce((n, x) => n + x.count, 0);
    expect(served).toBe(lazy.size - 1);
    expect(lazy.skipped.map((s) => s.path)).toEqual([tree.corrupt]);
  });

  it('shares samples and skips with subsets', async () => {
    const ds = await openDs();
    const sub = ds.subset([2, 0]);
    expect(sub.size).toBe(2);
    expect(sub.paths).toEqual([ds.paths[2], ds.paths[0]]);
    expect(Array.from(sub.labels)).toEqual([ds.labels[2], ds.labels[0]]);
    expect(sub.skipped).toEqual(ds.skipped);
  });
});

describe('FolderDataset centre crop', () => {
  it('keeps the centred square share of the short side before resizing', async () => {
    const { mkdtemp, mkdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const sharp = (await import('sharp')).default;
    const root = await mkdtemp(join(tmpdir(), 'arcface-crop-'));
    try {
      // 40x20: a red frame around a blue 20x10 centre.
      const w = 40;
      const h = 20;
      const px = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const inside = x >= 10 && x < 30 && y >= 5 && y < 15;
          px.set(inside ? [0, 0, 255] : [255, 0, 0], (y * w + x) * 3);
        }
      }
      await mkdir(join(root, 'a'));
      await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(join(root, 'a', 'x.png'));
      const batchOf = async (crop: number): Promise<Float32Array> => {
        const ds = await FolderDataset.open(root, { size: 4, crop, workers: 0 });
        const [b] = await collect(ds, { batchSize: 1, seed: 0, epoch: 0 });
        return b.x;
      };
      const cropped = await batchOf(0.5); // the 10x10 centre: all blue
      const red = cropped.subarray(0, 16);
      const blue = cropped.subarray(32, 48);
      expect(Math.max(...red)).toBeLessThan(-0.9);
      expect(Math.min(...blue)).toBeGreaterThan(0.9);
      const whole = await batchOf(1); // cover crop of the whole image: red corners remain
      expect(whole[0]).toBeGreaterThan(0.5);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('FolderDataset on LFW', () => {
  it('decodes real deep-funneled JPEGs through symlinked identity folders', async (ctx) => {
    const { existsSync } = await import('node:fs');
    const { mkdtemp, symlink } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const lfw = resolve(import.meta.dirname, '../../../shared/data/lfw/lfw-deepfunneled');
    if (!existsSync(lfw)) {
      ctx.skip(`LFW not found at ${lfw} (../shared/data is absent)`);
      return;
    }
    const root = await mkdtemp(join(tmpdir(), 'arcface-lfw-'));
    try {
      for (const name of ['Junichiro_Koizumi', 'Hugo_Chavez'])
        await symlink(join(lfw, name), join(root, name));
      const ds = await FolderDataset.open(root, { size: 56, workers: 1 });
      open.push(ds);
      expect(ds.classNames).toEqual(['Hugo_Chavez', 'Junichiro_Koizumi']);
      expect(ds.size).toBe(71 + 60);
      expect(ds.skipped).toHaveLength(0);
      const [b] = await collect(ds, { batchSize: 16, seed: 0, epoch: 0, augment: true });
      expect(b.count).toBe(16);
      const min = b.x.reduce((m, v) => Math.min(m, v), Infinity);
      const max = b.x.reduce((m, v) => Math.max(m, v), -Infinity);
      expect(min).toBeGreaterThanOrEqual(-1);
      expect(max).toBeLessThanOrEqual(1);
      expect(max - min).toBeGreaterThan(1); // real photos use most of the range
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
