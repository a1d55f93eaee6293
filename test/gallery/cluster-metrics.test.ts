import { describe, expect, it } from 'vitest';
import { scoreClustering } from '../../src/gallery/cluster-metrics.js';
import { clusterVectors } from './cluster-vectors.js';

describe('scoreClustering', () => {
  it('matches hand-computed pairwise and BCubed scores', () => {
    // Cluster 0 = {a, a}, cluster 1 = {a, b, b}: 4 pairs put together, 4 true pairs, 2 both.
    const s = scoreClustering([0, 0, 1, 1, 1], ['a', 'a', 'a', 'b', 'b']);
    expect(s.pairwisePrecision).toBeCloseTo(0.5, 12);
    expect(s.pairwiseRecall).toBeCloseTo(0.5, 12);
    expect(s.pairwiseF).toBeCloseTo(0.5, 12);
    // Per item precision: 1, 1, 1/3, 2/3, 2/3; recall: 2/3, 2/3, 1/3, 1, 1.
    expect(s.bcubedPrecision).toBeCloseTo(11 / 15, 12);
    expect(s.bcubedRecall).toBeCloseTo(11 / 15, 12);
    expect(s.bcubedF).toBeCloseTo(11 / 15, 12);
    expect([s.items, s.classes, s.clusters, s.groups, s.unclustered]).toEqual([5, 2, 2, 2, 0]);
  });

  it('counts each unclustered item as a cluster of its own', () => {
    // -1, -1 are two clusters, not one: nothing wrongly merged, one true pair missed of two.
    const s = scoreClustering([-1, -1, 3, 3], ['x', 'x', 'y', 'y']);
    expect(s.pairwisePrecision).toBe(1);
    expect(s.pairwiseRecall).toBeCloseTo(0.5, 12);
    expect(s.bcubedPrecision).toBe(1);
    expect(s.bcubedRecall).toBeCloseTo(0.75, 12);
    expect([s.clusters, s.groups, s.unclustered]).toEqual([3, 1, 2]);
    // The perfect answer scores 1 everywhere.
    const p = scoreClustering([7, 7, 2, 2], ['x', 'x', 'y', 'y']);
    expect([p.pairwiseF, p.bcubedF]).toEqual([1, 1]);
  });

  it('matches scikit-learn pair_confusion_matrix and brute-force BCubed', () => {
    for (const c of clusterVectors.scores) {
      const s = scoreClustering(c.predicted, clusterVectors.labels);
      for (const key of [
        'pairwisePrecision',
        'pairwiseRecall',
        'pairwiseF',
        'bcubedPrecision',
        'bcubedRecall',
        'bcubedF',
      ] as const) {
        expect(s[key], `${c.name} ${key}`).toBeCloseTo(c[key], 12);
      }
    }
  });

  it('rejects mismatched lengths and non-integer ids by name', () => {
    expect(() => scoreClustering([0, 1], ['a'])).toThrow(/2 predicted labels for 1 true labels/);
    expect(() => scoreClustering([0.5], ['a'])).toThrow(/item 0 has cluster 0.5/);
  });
});
