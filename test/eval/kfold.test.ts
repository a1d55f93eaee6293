import { describe, expect, it } from 'vitest';
import { accuracyAt, bestThreshold, kFoldVerification, stratifiedFolds } from '../../src/eval/kfold.js';
import { parsePairs } from '../../src/eval/pairs.js';

// Three folds of two genuine (G) and two impostor (I) pairs; every number below is worked by hand.
//   fold 0: G 0.9 0.7   I 0.2 0.6
//   fold 1: G 0.8 0.4   I 0.3 0.1
//   fold 2: G 0.85 0.5  I 0.45 0.66
// Held out fold 0: train sorted 0.85G 0.8G 0.66I 0.5G 0.45I 0.4G 0.3I 0.1I; correct counts from
//   "accept nothing" 4: 5 6 5 6 5 6 5 4, best 6 first after 0.8 -> threshold (0.8+0.66)/2 = 0.73,
//   train 6/8; test: 0.9 in, 0.7 out (wrong), 0.2 out, 0.6 out -> 3/4.
// Held out fold 1: 0.9G 0.85G 0.7G 0.66I 0.6I 0.5G 0.45I 0.2I: 5 6 7 6 5 6 5 4, best 7 after 0.7
//   -> (0.7+0.66)/2 = 0.68, train 7/8; test: 0.8 in, 0.4 out (wrong), 0.3 out, 0.1 out -> 3/4.
// Held out fold 2: 0.9G 0.8G 0.7G 0.6I 0.4G 0.3I 0.2I 0.1I: 5 6 7 6 7 6 5 4, best 7 twice; the
//   strictest wins -> (0.7+0.6)/2 = 0.65 (not 0.35), train 7/8; test: 0.85 in, 0.5 out (wrong),
//   0.45 out, 0.66 in (wrong) -> 2/4.
// Mean (3/4 + 3/4 + 1/2) / 3 = 2/3; population std sqrt(((1/12)^2 * 2 + (1/6)^2) / 3) = sqrt(1/72).
const scores = [0.9, 0.7, 0.2, 0.6, 0.8, 0.4, 0.3, 0.1, 0.85, 0.5, 0.45, 0.66];
const same = [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0];
const fold = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];

describe('k-fold verification', () => {
  it('gives the hand-worked answer on a small pairs set', () => {
    const r = kFoldVerification(scores, same, fold);
    expect(r.folds.map((f) => f.threshold)).toEqual([
      expect.closeTo(0.73, 12),
      expect.closeTo(0.68, 12),
      expect.closeTo(0.65, 12),
    ]);
    expect(r.folds.map((f) => f.trainAccuracy)).toEqual([6 / 8, 7 / 8, 7 / 8]);
    expect(r.folds.map((f) => f.testAccuracy)).toEqual([3 / 4, 3 / 4, 2 / 4]);
    expect(r.folds.map((f) => f.testPairs)).toEqual([4, 4, 4]);
    expect(r.accuracyMean).toBeCloseTo(2 / 3, 12);
    expect(r.accuracyStd).toBeCloseTo(Math.sqrt(1 / 72), 12);
    expect(r.thresholdMean).toBeCloseTo((0.73 + 0.68 + 0.65) / 3, 12);
  });

  it('takes folds from an LFW-style header', () => {
    const names = ['A', 'B', 'C'];
    const lines = ['3 2'];
    for (let f = 0; f < 3; f++) {
      lines.push(`${names[f]} 1 2`, `${names[f]} 1 3`, `${names[f]} 1 X 1`, `${names[f]} 2 Y 1`);
    }
    const list = parsePairs(lines.join('\n'), 'hand.txt');
    expect(list.folds).toBe(3);
    expect(list.pairs.map((p) => p.fold)).toEqual(fold);
    expect(list.pairs.map((p) => (p.same ? 1 : 0))).toEqual(same);
    const r = kFoldVerification(
      scores,
      same,
      Int32Array.from(list.pairs, (p) => p.fold),
    );
    expect(r.accuracyMean).toBeCloseTo(2 / 3, 12);
  });

  it('handles a perfectly separable and an inseparable set', () => {
    expect(bestThreshold([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])).toEqual({
      threshold: (0.8 + 0.2) / 2,
      accuracy: 1,
    });
    // All scores tied: accepting nothing and accepting all both get half right; the strictest wins.
    expect(bestThreshold([0.5, 0.5, 0.5, 0.5], [1, 1, 0, 0])).toEqual({ threshold: Infinity, accuracy: 0.5 });
    // Only genuine pairs: accept everything.
    expect(bestThreshold([0.3, 0.1], [1, 1])).toEqual({ threshold: -Infinity, accuracy: 1 });
    expect(accuracyAt([0.3, 0.1], [1, 1], -Infinity)).toBe(1);
  });

  it('cuts stratified contiguous folds when a file defines none', () => {
    const s = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    expect([...stratifiedFolds(s, 2)]).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(() => stratifiedFolds([1, 0, 0], 2)).toThrow(/1 genuine pairs cannot fill 2 folds/);
  });

  it('checks its inputs', () => {
    expect(() => kFoldVerification([0.1, 0.2], [1, 0], [0, 0])).toThrow(/at least 2 folds/);
    expect(() => kFoldVerification([0.1, 0.2], [1], [0, 1])).toThrow(/must match/);
  });
});
