import { describe, expect, it } from 'vitest';
import { bestThreshold } from '../../src/eval/kfold.js';
import { auc, eer, rocCurve, tarAtFar } from '../../src/eval/roc.js';
import { vectors } from './vectors.js';

describe('ROC measures against scikit-learn', () => {
  for (const c of vectors.roc) {
    describe(c.name, () => {
      const roc = rocCurve(c.genuine, c.impostor);

      it('has the roc_curve(drop_intermediate=False) points and thresholds', () => {
        expect(roc.thresholds[0]).toBe(Infinity);
        expect(roc.fpr.length - 1).toBe(c.fpr.length);
        c.fpr.forEach((v, i) => expect(roc.fpr[i + 1]).toBeCloseTo(v, 12));
        c.tpr.forEach((v, i) => expect(roc.tpr[i + 1]).toBeCloseTo(v, 12));
        c.thresholds.forEach((v, i) => expect(roc.thresholds[i + 1]).toBe(v));
      });

      it('has roc_auc_score as its AUC', () => {
        expect(auc(roc)).toBeCloseTo(c.auc, 12);
      });

      it("has InsightFace's brentq EER and the first threshold with FAR >= FRR", () => {
        const e = eer(roc);
        // brentq stops at xtol 2e-12.
        expect(e.eer).toBeCloseTo(c.eer, 9);
        expect(e.threshold).toBe(c.eerThreshold);
      });

      it('has the TAR@FAR values, thresholds and reliability', () => {
        const got = tarAtFar(roc, vectors.fars);
        c.tarAtFar.forEach((want, i) => {
          const g = got[i];
          expect(g.far).toBe(want.far);
          expect(g.reliable).toBe(want.tar !== null);
          if (want.tar === null) {
            expect(g.tar).toBeNull();
            expect(g.note).toMatch(/needs at least \d+ impostor pairs, have \d+/);
          } else {
            expect(g.tar).toBeCloseTo(want.tar, 12);
            expect(g.threshold).toBe(want.threshold);
            expect(g.achievedFar).toBeCloseTo(want.achievedFar!, 12);
            expect(g.achievedFar!).toBeLessThanOrEqual(want.far);
          }
        });
      });

      it('finds the best accuracy over all ROC points', () => {
        const scores = [...c.genuine, ...c.impostor];
        const same = scores.map((_, i) => i < c.genuine.length);
        expect(bestThreshold(scores, same).accuracy).toBeCloseTo(c.bestAccuracy, 12);
      });
    });
  }

  it('rejects empty and NaN score sets with a message', () => {
    expect(() => rocCurve([], [0.1])).toThrow(/genuine and impostor/);
    expect(() => rocCurve([0.5, NaN], [0.1])).toThrow(/genuine score 1 is NaN/);
    expect(() => tarAtFar(rocCurve([1], [0]), [0])).toThrow(/FAR must be in/);
  });
});
