/**
 * Ranking sets of pair scores by how well they separate genuine from impostor pairs: the judge when one
 * model is run several ways (e.g. under each candidate input normalisation) on the same pairs.
 */
import { bestThreshold } from './kfold.js';
import { auc, rocCurve } from './roc.js';

/** One score set's separation measures. */
export interface ScoreSetRank {
  readonly name: string;
  /** Area under the ROC curve, in [0, 1]. */
  readonly auc: number;
  /** Accuracy at the best threshold on these pairs, in [0, 1] (optimistic: chosen on the same pairs). */
  readonly accuracy: number;
  /**
   * d': the gap between the genuine and impostor mean scores over their pooled standard deviation. Breaks
   * ties when a small set is separated perfectly (AUC 1) by several score sets.
   */
  readonly separation: number;
}

/** Mean and population variance. */
function moments(s: Float32Array): [number, number] {
  let m = 0;
  for (const v of s) m += v;
  m /= s.length;
  let q = 0;
  for (const v of s) q += (v - m) * (v - m);
  return [m, q / s.length];
}

/**
 * Rank score sets over the same pairs: by AUC, then d'.
 * @param sets each a name and one score per pair
 * @param same 1 for a genuine pair, 0 for an impostor pair
 * @returns best first
 * @throws when a set's length differs from `same`'s, or the pairs lack either kind
 */
export function rankScoreSets(
  sets: readonly { readonly name: string; readonly scores: Float32Array }[],
  same: Uint8Array,
): ScoreSetRank[] {
  if (!same.includes(1) || !same.includes(0)) {
    throw new Error('ranking score sets: the pairs need both genuine and impostor pairs');
  }
  return sets
    .map(({ name, scores }) => {
      if (scores.length !== same.length) {
        throw new Error(`ranking score sets: '${name}' has ${scores.length} scores for ${same.length} pairs`);
      }
      const genuine = scores.filter((_, i) => same[i] === 1);
      const impostor = scores.filter((_, i) => same[i] !== 1);
      const [mg, vg] = moments(genuine);
      const [mi, vi] = moments(impostor);
      return {
        name,
        auc: auc(rocCurve(genuine, impostor)),
        accuracy: bestThreshold(scores, same).accuracy,
        separation: (mg - mi) / Math.sqrt((vg + vi) / 2 || Number.EPSILON),
      };
    })
    .sort((x, y) => y.auc - x.auc || y.separation - x.separation);
}
