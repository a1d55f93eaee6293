/** Crop and colour-jitter augmentation: seeded per (seed, epoch), changes pixels, and identical across threads. */
import { describe, expect, it } from 'vitest';
import { drawAugments, writeAugmentedSample } from '../../src/data/augment.js';
import { FolderDataset } from '../../src/data/index.js';
import { type SampleSpec, writeSample } from '../../src/data/image-sample.js';
import { seededRandom } from '../../src/util/random.js';
import { makeTree } from './images.js';

const spec: SampleSpec = {
  channels: 3,
  height: 16,
  width: 16,
  fit: 'cover',
  crop: 1,
  mean: [127.5],
  std: [127.5],
};
const full = { cropScale: 0.8, brightness: 0.2, contrast: 0.2, saturation: 0.2 };

function pixels(seed: number): Uint8Array {
  const rand = seededRandom(seed);
  return Uint8Array.from({ length: 3 * 16 * 16 }, () => Math.floor(rand() * 256));
}

describe('drawAugments', () => {
  it('is a pure function of (seed, epoch), and differs between seeds and epochs', () => {
    const a = drawAugments(50, 7, 3, full, 16, 16);
    expect(drawAugments(50, 7, 3, full, 16, 16)).toEqual(a);
    expect(drawAugments(50, 8, 3, full, 16, 16)).not.toEqual(a);
    expect(drawAugments(50, 7, 4, full, 16, 16)).not.toEqual(a);
  });

  it('keeps crops inside the sample and factors inside their ranges', () => {
    for (const d of drawAugments(500, 1, 0, full, 16, 16)) {
      expect(d.cropSide).toBeGreaterThanOrEqual(Math.round(16 * 0.8));
      expect(d.cropSide).toBeLessThanOrEqual(16);
      expect(d.cropX + d.cropSide).toBeLessThanOrEqual(16);
      expect(d.cropY + d.cropSide).toBeLessThanOrEqual(16);
      for (const f of [d.brightness, d.contrast, d.saturation]) {
        expect(f).toBeGreaterThanOrEqual(0.8);
        expect(f).toBeLessThanOrEqual(1.2);
      }
    }
  });

  it('with everything off draws the identity (full crop, factors 1)', () => {
    for (const d of drawAugments(20, 1, 0, {}, 16, 16))
      expect(d).toEqual({ cropSide: 16, cropX: 0, cropY: 0, brightness: 1, contrast: 1, saturation: 1 });
  });
});

describe('writeAugmentedSample', () => {
  it('with the identity augmentation writes what writeSample writes (flipped or not)', () => {
    const px = pixels(1);
    const id = drawAugments(1, 0, 0, {}, 16, 16)[0];
    for (const flip of [false, true]) {
      const a = new Float32Array(px.length);
      const b = new Float32Array(px.length);
      writeSample(px, a, 0, spec, flip);
      writeAugmentedSample(px, b, 0, spec, flip, id);
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    }
  });

  it('changes the pixels, stays in the normalised range, and repeats for the same draw', () => {
    const px = pixels(2);
    const plain = new Float32Array(px.length);
    writeSample(px, plain, 0, spec, false);
    const draws = drawAugments(10, 3, 0, full, 16, 16);
    for (const d of draws) {
      const a = new Float32Array(px.length);
      const b = new Float32Array(px.length);
      writeAugmentedSample(px, a, 0, spec, false, d);
      writeAugmentedSample(px, b, 0, spec, false, d);
      expect(b).toEqual(a);
      const changed = a.reduce((n, v, i) => n + (Math.abs(v - plain[i]) > 1e-3 ? 1 : 0), 0);
      expect(changed).toBeGreaterThan(a.length / 2);
      for (const v of a) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('brightness alone scales pixel values (before normalisation)', () => {
    const px = new Uint8Array(3 * 16 * 16).fill(100);
    const out = new Float32Array(px.length);
    writeAugmentedSample(px, out, 0, spec, false, {
      cropSide: 16,
      cropX: 0,
      cropY: 0,
      brightness: 1.2,
      contrast: 1,
      saturation: 1,
    });
    for (const v of out) expect(v * 127.5 + 127.5).toBeCloseTo(120, 3);
  });
});

describe('FolderDataset with augmentation', () => {
  it('gives the same batches per (seed, epoch) in workers and on the main thread, and differs from no augmentation', async () => {
    const tree = await makeTree(2, 6);
    const opts = { size: 12, augmentation: full, cache: true } as const;
    const main = await FolderDataset.open(tree.root, { ...opts, workers: 0 });
    const pool = await FolderDataset.open(tree.root, { ...opts, workers: 2 });
    try {
      const collect = async (ds: FolderDataset, augment: boolean, seed: number): Promise<Float32Array[]> => {
        const xs: Float32Array[] = [];
        for await (const b of ds.batches({ batchSize: 4, seed, epoch: 1, augment })) xs.push(b.x);
        return xs;
      };
      const a = await collect(main, true, 5);
      expect(await collect(pool, true, 5)).toEqual(a);
      expect(await collect(main, true, 5)).toEqual(a);
      expect(await collect(main, true, 6)).not.toEqual(a);
      expect(await collect(main, false, 5)).not.toEqual(a);
    } finally {
      await main.close();
      await pool.close();
    }
  });

  it('refuses a bad augmentation, naming the field', async () => {
    const tree = await makeTree(1, 2);
    await expect(FolderDataset.open(tree.root, { augmentation: { cropScale: 0 } })).rejects.toThrow(
      /cropScale/,
    );
    await expect(FolderDataset.open(tree.root, { augmentation: { brightness: 1.5 } })).rejects.toThrow(
      /brightness/,
    );
  });
});
