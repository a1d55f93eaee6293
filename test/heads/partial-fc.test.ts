import { describe, expect, it } from 'vitest';
import {
  compileHeadStep,
  presets,
  sampleClasses,
  sampledCount,
  seededRandom,
} from '../../src/heads/index.js';
import { maxNormError, randomLabels, uniform } from './data.js';

const B = 16;
const D = 24;
const C = 40;

describe('sampleClasses', () => {
  const labels = randomLabels(B, C, 3, [2, 9]);

  it('keeps every positive class first and remaps labels onto the sampled rows', () => {
    const rate = 0.5;
    const s = sampleClasses(labels, C, rate, seededRandom(1));
    expect(s.index.length).toBe(sampledCount(C, rate));
    expect(s.index.length).toBe(20);
    const positives = new Set([...labels].filter((l) => l >= 0n));
    expect(s.positives).toBe(positives.size);
    expect(new Set(s.index.slice(0, s.positives))).toEqual(positives);
    expect(new Set(s.index).size).toBe(s.index.length);
    for (const c of s.index) expect(c >= 0n && c < BigInt(C)).toBe(true);
    for (let i = 0; i < B; i++) {
      if (labels[i] < 0n) expect(s.remapped[i]).toBe(-1n);
      else expect(s.index[Number(s.remapped[i])]).toBe(labels[i]);
    }
  });

  it('is deterministic given the seed, and the seed matters', () => {
    const draw = (seed: number): bigint[][] => {
      const r = seededRandom(seed);
      return [0, 1, 2].map(() => [...sampleClasses(labels, C, 0.3, r).index]);
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('uses both the sparse and the dense draw without repeats', () => {
    for (const rate of [0.1, 0.9]) {
      const big = sampleClasses(randomLabels(64, 1000, 4), 1000, rate, seededRandom(2));
      expect(new Set(big.index).size).toBe(sampledCount(1000, rate));
    }
  });

  it('refuses a batch with more classes than the sample holds', () => {
    const many = BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i));
    expect(() => sampleClasses(many, 100, 0.05, seededRandom(0))).toThrow(
      /the batch has 10 distinct classes but the graph samples only 5/,
    );
    expect(() => sampledCount(100, 0)).toThrow(/rate must be in \(0, 1\]/);
  });
});

describe('partial FC head', () => {
  const x = uniform(B * D, 11);
  const labels = randomLabels(B, C, 12, [5]);

  it('at rate 1.0 equals the full head (loss and gradients)', async () => {
    const config = presets.arcface();
    const weight = uniform(C * D, 13);
    const full = await compileHeadStep({ config, batch: B, dim: D, classes: C }, { threads: 1 });
    const part = await compileHeadStep(
      { config, batch: B, dim: D, classes: C, sampleRate: 1, denseGrad: true, seed: 3 },
      { threads: 1 },
    );
    const a = await full.run({ x, weight, labels });
    const b = await part.run({ x, weight, labels });
    // The sample is a permutation of all classes: same loss, same gradients once scattered back.
    expect([...b.index!].sort((p, q) => Number(p - q))).toEqual([...Array(C).keys()].map(BigInt));
    expect(Math.abs(b.loss - a.loss) / a.loss).toBeLessThan(1e-5);
    expect(maxNormError(b.gradX, a.gradX)).toBeLessThan(1e-4);
    expect(maxNormError(b.gradW, a.gradW)).toBeLessThan(1e-4);
  });

  for (const k of [1, 3]) {
    const S0 = 12;
    it(`at rate 0.3 (k = ${k}) is the full head on the sampled rows, gradients on those rows only`, async () => {
      const config = presets['subcenter-arcface']({ subCenters: k });
      const weight = uniform(C * k * D, 14);
      const part = await compileHeadStep(
        { config, batch: B, dim: D, classes: C, sampleRate: 0.3, seed: 9 },
        { threads: 1 },
      );
      const dense = await compileHeadStep(
        { config, batch: B, dim: D, classes: C, sampleRate: 0.3, seed: 9, denseGrad: true },
        { threads: 1 },
      );
      // At most 8 distinct classes, spread over C, so the sample also holds negatives.
      const few = randomLabels(B, 8, 15, [4]).map((l) => (l < 0n ? l : l * 5n));
      const p = await part.run({ x, weight, labels: few });
      const pd = await dense.run({ x, weight, labels: few });
      expect(new Set(few).size).toBeLessThan(S0);
      const S = p.index!.length;
      expect(S).toBe(S0);
      // The same JS-side sub-matrix through the full head must agree.
      const sub = new Float32Array(S * k * D);
      p.index!.forEach((c, i) =>
        sub.set(weight.subarray(Number(c) * k * D, (Number(c) + 1) * k * D), i * k * D),
      );
      const ref = await compileHeadStep({ config, batch: B, dim: D, classes: S }, { threads: 1 });
      const r = await ref.run({ x, weight: sub, labels: p.remapped! });
      expect(Math.abs(p.loss - r.loss) / r.loss).toBeLessThan(1e-5);
      expect(maxNormError(p.gradX, r.gradX)).toBeLessThan(1e-4);
      expect(maxNormError(p.gradW, r.gradW)).toBeLessThan(1e-4);
      // Dense form: the same rows, zero elsewhere.
      expect(pd.index).toEqual(p.index);
      const expected = new Float32Array(C * k * D);
      p.index!.forEach((c, i) =>
        expected.set(p.gradW.subarray(i * k * D, (i + 1) * k * D), Number(c) * k * D),
      );
      expect(maxNormError(pd.gradW, expected)).toBeLessThan(1e-5);
      const untouched = new Set([...Array(C).keys()].filter((c) => !p.index!.includes(BigInt(c))));
      expect(untouched.size).toBe(C - S);
      for (const c of untouched) {
        expect(pd.gradW.subarray(c * k * D, (c + 1) * k * D).every((v) => v === 0)).toBe(true);
      }
    });
  }
});
