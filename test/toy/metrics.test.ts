import { describe, expect, it } from 'vitest';
import { angularLayout, classSpreads, wrapDegrees } from '../../src/toy/metrics.js';

/** 2-D features at the given angles (degrees) with varied radii, and their labels. */
function features(groups: number[][]): { x: Float32Array; labels: Int32Array } {
  const xs: number[] = [];
  const labels: number[] = [];
  groups.forEach((angles, k) =>
    angles.forEach((a, i) => {
      const r = 0.5 + i; // norms must not matter
      xs.push(r * Math.cos((a * Math.PI) / 180), r * Math.sin((a * Math.PI) / 180));
      labels.push(k);
    }),
  );
  return { x: Float32Array.from(xs), labels: Int32Array.from(labels) };
}

describe('toy metrics', () => {
  // A around 0 deg (+-10), B around 90 (+-5), C around 180 (+-30).
  const { x, labels } = features([
    [-10, 0, 10],
    [85, 90, 95, 90],
    [150, 180, 210],
  ]);

  it('spread: mean and max angle to the class centre', () => {
    const s = classSpreads(x, labels, 2, 3);
    expect(s.map((c) => c.count)).toEqual([3, 4, 3]);
    expect(s[0].meanDeg).toBeCloseTo(20 / 3, 4);
    expect(s[0].maxDeg).toBeCloseTo(10, 4);
    expect(s[1].meanDeg).toBeCloseTo(2.5, 4);
    expect(s[1].maxDeg).toBeCloseTo(5, 4);
    expect(s[2].meanDeg).toBeCloseTo(20, 4);
    expect(s[2].maxDeg).toBeCloseTo(30, 4);
    expect(s[1].centre[0]).toBeCloseTo(0, 5);
    expect(s[1].centre[1]).toBeCloseTo(1, 5);
  });

  it('gap: the empty arc between neighbouring extents', () => {
    const layout = angularLayout(x, labels, 3);
    const gap = (from: number, to: number): number | undefined =>
      layout.gaps.find((g) => g.from === from && g.to === to)?.gapDeg;
    // A->B: 90 - 5 - 10; B->C: 90 - 30 - 5; C->A: 180 - 10 - 30.
    expect(gap(0, 1)).toBeCloseTo(75, 4);
    expect(gap(1, 2)).toBeCloseTo(55, 4);
    expect(gap(2, 0)).toBeCloseTo(140, 4);
    expect(layout.gaps).toHaveLength(3);
    expect(layout.smallest?.from).toBe(1);
    expect(layout.smallest?.to).toBe(2);
    expect(layout.smallest?.gapDeg).toBeCloseTo(55, 4);
    // The gaps and the extents tile the circle.
    const arcs = layout.extents.reduce((a, e) => a + e.maxOffsetDeg - e.minOffsetDeg, 0);
    expect(arcs + layout.gaps.reduce((a, g) => a + g.gapDeg, 0)).toBeCloseTo(360, 4);
  });

  it('gap is negative, by the overlap, when extents overlap', () => {
    // A spans 0..50 (centre 25), B spans 40..90 (centre 65): 10 degrees of overlap.
    const f = features([
      [0, 50],
      [40, 90],
    ]);
    const layout = angularLayout(f.x, f.labels, 2);
    expect(layout.smallest?.from).toBe(0);
    expect(layout.smallest?.gapDeg).toBeCloseTo(-10, 4);
    expect(layout.gaps.find((g) => g.from === 1)?.gapDeg).toBeCloseTo(270, 4);
  });

  it('wraps around +-180 degrees', () => {
    // A spans 170..190 across the seam, B 260..280.
    const f = features([
      [170, -170],
      [-100, -80],
    ]);
    const layout = angularLayout(f.x, f.labels, 2);
    // A's upper edge -170 (190), B's lower edge -100 (260): 70; B's upper edge -80 (280) to A's lower 170: 250.
    expect(layout.smallest?.gapDeg).toBeCloseTo(70, 4);
    expect(layout.smallest?.from).toBe(0);
    expect(wrapDegrees(190)).toBeCloseTo(-170, 9);
    expect(wrapDegrees(-180)).toBeCloseTo(180, 9);
  });

  it('coverage keeps the features nearest the centre', () => {
    // A: two features at +-5 and two outliers at +-60, B at 90 +- 5.
    const f = features([
      [-5, 5, -60, 60],
      [85, 95],
    ]);
    const all = angularLayout(f.x, f.labels, 2, 1);
    const core = angularLayout(f.x, f.labels, 2, 0.5);
    expect(all.smallest?.gapDeg).toBeCloseTo(90 - 5 - 60, 4);
    expect(core.smallest?.gapDeg).toBeCloseTo(90 - 5 - 5, 4);
    expect(core.extents[0].maxOffsetDeg).toBeCloseTo(5, 4);
  });
});
