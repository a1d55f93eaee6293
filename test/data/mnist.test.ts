import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/data/dataset.js';
import { MemoryDataset } from '../../src/data/memory.js';
import { loadMnist, mnistCounts, mnistSplit } from '../../src/data/mnist.js';

async function collect(ds: MemoryDataset, batchSize: number, seed: number, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of ds.batches({ batchSize, seed, epoch })) out.push(b);
  return out;
}

describe('MNIST from the mnist package', () => {
  it('ships about 1,000 images per digit', () => {
    const counts = mnistCounts();
    expect(counts).toHaveLength(10);
    for (const n of counts) {
      expect(n).toBeGreaterThan(800);
      expect(n).toBeLessThan(1300);
    }
  });

  it('loads chosen digits as [1, 28, 28] samples in [-1, 1] with labels by position', () => {
    const ds = loadMnist({ classes: [3, 7], perClass: 50 });
    expect(ds.sampleShape).toEqual([1, 28, 28]);
    expect(ds.classNames).toEqual(['3', '7']);
    expect(ds.size).toBe(100);
    expect(ds.labels.filter((l) => l === 1).length).toBe(50);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(-1);
    expect(max).toBeCloseTo(1, 5);
    // A digit has ink: every image has some bright pixels and mostly background.
    for (let i = 0; i < ds.size; i++) {
      const img = ds.x.subarray(i * 784, (i + 1) * 784);
      const ink = img.filter((v) => v > 0).length;
      expect(ink).toBeGreaterThan(20);
      expect(ink).toBeLessThan(500);
    }
  });

  it('splits each digit deterministically by seed, disjoint and stratified', () => {
    const a = mnistSplit({ classes: [0, 1, 2], perClass: 100, heldOutFraction: 0.2, seed: 5 });
    const b = mnistSplit({ classes: [0, 1, 2], perClass: 100, heldOutFraction: 0.2, seed: 5 });
    const c = mnistSplit({ classes: [0, 1, 2], perClass: 100, heldOutFraction: 0.2, seed: 6 });
    expect(a.train.size).toBe(240);
    expect(a.heldOut.size).toBe(60);
    for (let k = 0; k < 3; k++) expect(a.heldOut.labels.filter((l) => l === k).length).toBe(20);
    expect(Buffer.from(a.heldOut.x.buffer).equals(Buffer.from(b.heldOut.x.buffer))).toBe(true);
    expect(Buffer.from(a.heldOut.x.buffer).equals(Buffer.from(c.heldOut.x.buffer))).toBe(false);
    // Disjoint: no held-out image also appears in training.
    const key = (ds: MemoryDataset, i: number): string => ds.x.subarray(i * 784, (i + 1) * 784).join(',');
    const train = new Set(Array.from({ length: a.train.size }, (_, i) => key(a.train, i)));
    for (let i = 0; i < a.heldOut.size; i++) expect(train.has(key(a.heldOut, i))).toBe(false);
  });
});

describe('MemoryDataset', () => {
  const ds = new MemoryDataset({
    x: Float32Array.from({ length: 10 * 2 }, (_, i) => i),
    labels: Int32Array.from({ length: 10 }, (_, i) => i % 3),
    sampleShape: [2],
    classNames: ['a', 'b', 'c'],
  });

  it('serves every sample once per epoch, padding the last batch with label -1', async () => {
    const batches = await collect(ds, 4, 1, 0);
    expect(batches.map((b) => b.count)).toEqual([4, 4, 2]);
    const seen = batches
      .flatMap((b) => Array.from({ length: b.count }, (_, r) => b.x[r * 2] / 2))
      .sort((p, q) => p - q);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const b of batches) {
      for (let r = 0; r < b.count; r++) expect(Number(b.labels[r])).toBe((b.x[r * 2] / 2) % 3);
    }
    const last = batches[2];
    expect(Array.from(last.labels.subarray(2))).toEqual([-1n, -1n]);
    expect(Array.from(last.x.subarray(4))).toEqual([0, 0, 0, 0]);
  });

  it('orders by (seed, epoch)', async () => {
    const order = async (seed: number, epoch: number): Promise<string> =>
      (await collect(ds, 4, seed, epoch)).map((b) => Array.from(b.x).join()).join('|');
    expect(await order(1, 0)).toBe(await order(1, 0));
    expect(await order(1, 1)).not.toBe(await order(1, 0));
    expect(await order(2, 0)).not.toBe(await order(1, 0));
  });

  it('rejects labels outside the classes', () => {
    expect(
      () =>
        new MemoryDataset({
          x: new Float32Array(2),
          labels: Int32Array.of(0, 3),
          sampleShape: [1],
          classNames: ['a'],
        }),
    ).toThrow(/label 3/);
  });
});

describe('MNIST shift augmentation', () => {
  const ds = loadMnist({ classes: [0], perClass: 40, maxShift: 2 });
  const epoch = async (augment: boolean, seed = 3): Promise<Float32Array> => {
    const out: Float32Array[] = [];
    for await (const b of ds.batches({ batchSize: 40, seed, epoch: 0, shuffle: false, augment }))
      out.push(b.x);
    return out[0];
  };

  it('shifts digits by whole pixels, reproducibly by seed, and only when asked', async () => {
    const plain = await epoch(false);
    expect(Buffer.from(plain.buffer).equals(Buffer.from(ds.x.buffer))).toBe(true);
    const a = await epoch(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from((await epoch(true)).buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from((await epoch(true, 4)).buffer))).toBe(false);
    let shifted = 0;
    for (let i = 0; i < 40; i++) {
      const src = plain.subarray(i * 784, (i + 1) * 784);
      const dst = a.subarray(i * 784, (i + 1) * 784);
      // Find the shift that maps src onto dst exactly (within the 28x28 frame).
      let found = false;
      for (let dy = -2; dy <= 2 && !found; dy++) {
        for (let dx = -2; dx <= 2 && !found; dx++) {
          let ok = true;
          for (let y = 0; y < 28 && ok; y++) {
            for (let x = 0; x < 28 && ok; x++) {
              const sy = y - dy;
              const sx = x - dx;
              const want = sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? src[sy * 28 + sx] : -1;
              ok = dst[y * 28 + x] === want;
            }
          }
          if (ok) {
            found = true;
            if (dx !== 0 || dy !== 0) shifted++;
          }
        }
      }
      expect(found).toBe(true);
    }
    expect(shifted).toBeGreaterThan(20);
  });
});
