/**
 * The k-fold verification protocol of LFW and InsightFace: for each fold, choose the threshold that
 * maximises accuracy on the other folds, then measure accuracy on the held-out fold. Report the mean
 * and (population) standard deviation of the held-out accuracies.
 */
import { EvalInputError } from './errors.js';
import type { Scores } from './roc.js';

/** The best accuracy threshold on one set of pairs. */
export interface ThresholdChoice {
  /**
   * Accept when score >= threshold. It sits halfway between the lowest accepted and the highest
   * rejected distinct score; +Infinity accepts nothing, -Infinity accepts everything.
   */
  readonly threshold: number;
  /** Accuracy on the pairs it was chosen on, in [0, 1]. */
  readonly accuracy: number;
}

/**
 * The threshold that classifies the most pairs correctly. Cuts are tried between distinct scores;
 * among equally good cuts the strictest (highest) wins, as InsightFace's argmax over an ascending
 * distance grid does.
 * @param scores similarity per pair
 * @param same 1 (or true) for genuine pairs, 0 for impostor pairs
 */
export function bestThreshold(scores: Scores, same: ArrayLike<number | boolean>): ThresholdChoice {
  const n = scores.length;
  if (n === 0) throw new Error('bestThreshold: no pairs');
  const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let impostors = 0;
  for (let i = 0; i < n; i++) if (!same[i]) impostors++;
  // Accept nothing: every impostor is right, every genuine pair wrong.
  let correct = impostors;
  let best = correct;
  let bestThr = Infinity;
  let k = 0;
  while (k < n) {
    const v = scores[order[k]];
    while (k < n && scores[order[k]] === v) {
      correct += same[order[k]] ? 1 : -1;
      k++;
    }
    if (correct > best) {
      best = correct;
      bestThr = k < n ? (v + scores[order[k]]) / 2 : -Infinity;
    }
  }
  return { threshold: bestThr, accuracy: best / n };
}

/** Fraction of pairs classified correctly at a threshold (accept when score >= threshold). */
export function accuracyAt(scores: Scores, same: ArrayLike<number | boolean>, threshold: number): number {
  let correct = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] >= threshold === Boolean(same[i])) correct++;
  return correct / scores.length;
}

/** One held-out fold. */
export interface FoldResult {
  readonly fold: number;
  /** Chosen on the other folds; null stands for an infinite threshold (accept nothing or everything). */
  readonly threshold: number | null;
  readonly trainAccuracy: number;
  readonly testAccuracy: number;
  readonly testPairs: number;
}

/** The protocol's outcome. */
export interface KFoldResult {
  readonly folds: readonly FoldResult[];
  /** Mean held-out accuracy, in [0, 1]. */
  readonly accuracyMean: number;
  /** Population standard deviation of the held-out accuracies (numpy's default, as InsightFace reports). */
  readonly accuracyStd: number;
  /** Mean of the finite per-fold thresholds (a single operating point to ship); null if none is finite. */
  readonly thresholdMean: number | null;
}

/**
 * Fold ids when a file defines none: genuine and impostor pairs are each cut, in file order, into
 * k contiguous blocks (the first ones one longer), so every fold holds both kinds.
 */
export function stratifiedFolds(same: ArrayLike<boolean | number>, k: number): Int32Array {
  const out = new Int32Array(same.length);
  for (const kind of [true, false]) {
    const rows: number[] = [];
    for (let i = 0; i < same.length; i++) if (Boolean(same[i]) === kind) rows.push(i);
    if (rows.length < k)
      throw new EvalInputError(
        'k-fold',
        `${rows.length} ${kind ? 'genuine' : 'impostor'} pairs cannot fill ${k} folds`,
      );
    let start = 0;
    for (let f = 0; f < k; f++) {
      const size = Math.floor(rows.length / k) + (f < rows.length % k ? 1 : 0);
      for (let r = start; r < start + size; r++) out[rows[r]] = f;
      start += size;
    }
  }
  return out;
}

/**
 * Every fold must hold genuine and impostor pairs. A fold of one kind makes the protocol's numbers empty:
 * held out, its accuracy is 0% or 100% by construction; with such folds on both sides the thresholds chosen
 * accept everything or nothing, and "0.00% +- 0.00%" was reported as if measured.
 * @throws {EvalInputError} naming each fold that holds a single kind
 */
function checkFoldsMixed(same: ArrayLike<number | boolean>, fold: ArrayLike<number>, ids: number[]): void {
  const genuine = new Map<number, number>(ids.map((f) => [f, 0]));
  const impostor = new Map<number, number>(ids.map((f) => [f, 0]));
  for (let i = 0; i < fold.length; i++) {
    const m = same[i] ? genuine : impostor;
    m.set(fold[i], m.get(fold[i])! + 1);
  }
  const bad = ids.filter((f) => genuine.get(f) === 0 || impostor.get(f) === 0);
  if (bad.length) {
    const list = bad.map((f) => `fold ${f}: ${genuine.get(f)} genuine, ${impostor.get(f)} impostor`);
    throw new EvalInputError(
      'k-fold',
      `${bad.length} of ${ids.length} folds hold only one kind of pair (${list.slice(0, 5).join('; ')}` +
        `${bad.length > 5 ? '; ...' : ''}): every fold needs genuine and impostor pairs for its accuracy ` +
        'to mean anything (an LFW-style file lays out each fold as N matched, then N mismatched pairs)',
    );
  }
}

/**
 * Run the protocol.
 * @param scores similarity per pair
 * @param same 1 for genuine, 0 for impostor, per pair
 * @param fold fold id per pair, 0..k-1 (e.g. from the pairs file, or {@link stratifiedFolds})
 * @throws {EvalInputError} with fewer than 2 folds, or a fold holding only genuine or only impostor pairs
 */
export function kFoldVerification(
  scores: Scores,
  same: ArrayLike<number | boolean>,
  fold: ArrayLike<number>,
): KFoldResult {
  const n = scores.length;
  if (same.length !== n || fold.length !== n) {
    throw new Error(`k-fold: ${n} scores, ${same.length} labels and ${fold.length} fold ids must match`);
  }
  const ids = [...new Set(Array.from(fold))].sort((a, b) => a - b);
  if (ids.length < 2) throw new EvalInputError('k-fold', `need at least 2 folds, got ${ids.length}`);
  checkFoldsMixed(same, fold, ids);
  const folds: FoldResult[] = ids.map((f) => {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? test : train).push(i);
    const choice = bestThreshold(
      train.map((i) => scores[i]),
      train.map((i) => same[i]),
    );
    const testAccuracy = accuracyAt(
      test.map((i) => scores[i]),
      test.map((i) => same[i]),
      choice.threshold,
    );
    return {
      fold: f,
      threshold: Number.isFinite(choice.threshold) ? choice.threshold : null,
      trainAccuracy: choice.accuracy,
      testAccuracy,
      testPairs: test.length,
    };
  });
  const accs = folds.map((r) => r.testAccuracy);
  const mean = accs.reduce((s, a) => s + a, 0) / accs.length;
  const std = Math.sqrt(accs.reduce((s, a) => s + (a - mean) ** 2, 0) / accs.length);
  const finite = folds.flatMap((r) => (r.threshold === null ? [] : [r.threshold]));
  return {
    folds,
    accuracyMean: mean,
    accuracyStd: std,
    thresholdMean: finite.length ? finite.reduce((s, t) => s + t, 0) / finite.length : null,
  };
}
