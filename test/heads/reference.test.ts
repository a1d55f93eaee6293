/**
 * Every case of the PyTorch float64 reference (../shared/reference/margin_heads.json) reproduced in
 * float32: loss to 1e-5 relative, gradients to 1e-3 relative in max norm.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileHeadStep, presets } from '../../src/heads/index.js';

interface RefCase {
  name: string;
  B: number;
  D: number;
  C: number;
  k: number;
  s: number;
  m1: number;
  m2: number;
  m3: number;
  easy_margin: boolean;
  x: number[];
  W: number[];
  labels: number[];
  loss: number;
  grad_x: number[];
  grad_W: number[];
}

const REF = new URL('../../../shared/reference/margin_heads.json', import.meta.url);
const cases: RefCase[] = existsSync(REF)
  ? (JSON.parse(readFileSync(REF, 'utf8')) as { cases: RefCase[] }).cases
  : [];

/** max |ours - ref| / max |ref| */
function maxNormError(ours: ArrayLike<number>, ref: readonly number[]): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

describe.skipIf(cases.length === 0)('margin heads vs the PyTorch reference', () => {
  it('covers the fall-back near pi, sub-centres, ignored rows and SphereFace', () => {
    const names = cases.map((c) => c.name);
    for (const n of [
      'arcface-s64-m0.5-near-pi',
      'subcenter-arcface-k3',
      'arcface-ignored-rows',
      'sphereface-m1.5',
    ]) {
      expect(names).toContain(n);
    }
  });

  for (const c of cases) {
    it(c.name, async () => {
      const config = presets.normface({
        s: c.s,
        m1: c.m1,
        m2: c.m2,
        m3: c.m3,
        subCenters: c.k,
        easyMargin: c.easy_margin,
      });
      const step = await compileHeadStep({ config, batch: c.B, dim: c.D, classes: c.C }, { threads: 1 });
      const out = await step.run({
        x: Float32Array.from(c.x),
        weight: Float32Array.from(c.W),
        labels: BigInt64Array.from(c.labels, BigInt),
      });
      expect(Math.abs(out.loss - c.loss) / Math.abs(c.loss)).toBeLessThanOrEqual(1e-5);
      expect(out.gradX.length).toBe(c.grad_x.length);
      expect(out.gradW.length).toBe(c.grad_W.length);
      expect(maxNormError(out.gradX, c.grad_x)).toBeLessThanOrEqual(1e-3);
      expect(maxNormError(out.gradW, c.grad_W)).toBeLessThanOrEqual(1e-3);
    });
  }
});
