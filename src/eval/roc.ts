/**
 * Verification metrics from genuine and impostor similarity scores: the ROC curve, AUC, EER and
 * TAR at fixed FARs. A pair is accepted when its score is >= the threshold.
 *
 * Conventions follow scikit-learn's `roc_curve(drop_intermediate=False)` and `roc_auc_score`: one
 * ROC point per distinct score (tied scores move together, so ties earn half credit in the AUC), and a
 * first point (0, 0) at threshold +Infinity.
 */

/** Scores as typed or plain arrays; higher means more alike (cosine similarity). */
export type Scores = ArrayLike<number>;

/** A ROC curve: point i accepts every pair scoring >= thresholds[i]. */
export interface RocCurve {
  /** False accept rate (impostors accepted / impostors), non-decreasing. */
  readonly fpr: Float64Array;
  /** True accept rate (genuine accepted / genuine), non-decreasing. */
  readonly tpr: Float64Array;
  /** Decreasing; thresholds[0] = +Infinity (accept nothing). */
  readonly thresholds: Float64Array;
  readonly genuineCount: number;
  readonly impostorCount: number;
}

function sortedDescending(s: Scores, what: string): Float32Array | Float64Array {
  // float32 scores (the engine's) sort as float32: exact, and half the memory of millions of pairs.
  const a = s instanceof Float32Array ? Float32Array.from(s) : Float64Array.from(s);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) throw new Error(`${what} score ${i} is NaN`);
  }
  // Typed-array sort is native and numeric; reversing gives descending order without a comparator.
  return a.sort().reverse();
}

/**
 * The full ROC curve, one point per distinct score.
 * @param genuine scores of same-identity pairs (at least one)
 * @param impostor scores of different-identity pairs (at least one)
 */
export function rocCurve(genuine: Scores, impostor: Scores): RocCurve {
  if (genuine.length === 0 || impostor.length === 0) {
    throw new Error(`ROC needs genuine and impostor pairs (got ${genuine.length} and ${impostor.length})`);
  }
  const g = sortedDescending(genuine, 'genuine');
  const im = sortedDescending(impostor, 'impostor');
  const cap = g.length + im.length + 1;
  const fpr = new Float64Array(cap);
  const tpr = new Float64Array(cap);
  const thr = new Float64Array(cap);
  thr[0] = Infinity;
  let n = 1;
  let i = 0;
  let j = 0;
  while (i < g.length || j < im.length) {
    const t = Math.max(i < g.length ? g[i] : -Infinity, j < im.length ? im[j] : -Infinity);
    while (i < g.length && g[i] === t) i++;
    while (j < im.length && im[j] === t) j++;
    fpr[n] = j / im.length;
    tpr[n] = i / g.length;
    thr[n] = t;
    n++;
  }
  return {
    fpr: fpr.slice(0, n),
    tpr: tpr.slice(0, n),
    thresholds: thr.slice(0, n),
    genuineCount: g.length,
    impostorCount: im.length,
  };
}

/** Area under the ROC curve by the trapezoidal rule (equals scikit-learn's roc_auc_score). */
export function auc(roc: RocCurve): number {
  let area = 0;
  for (let k = 1; k < roc.fpr.length; k++) {
    area += ((roc.fpr[k] - roc.fpr[k - 1]) * (roc.tpr[k] + roc.tpr[k - 1])) / 2;
  }
  return area;
}

/** The equal error rate and where it happens. */
export interface Eer {
  /** The rate at which FAR = FRR (= 1 - TAR), interpolated linearly between ROC points. */
  readonly eer: number;
  /** The first ROC threshold at which FAR >= FRR. */
  readonly threshold: number;
}

/**
 * Equal error rate: where the piecewise-linear ROC crosses FAR = 1 - TAR. This is the point that
 * `brentq(lambda x: 1 - x - interp1d(fpr, tpr)(x), 0, 1)` finds (InsightFace's verification code).
 */
export function eer(roc: RocCurve): Eer {
  const { fpr, tpr, thresholds } = roc;
  for (let k = 1; k < fpr.length; k++) {
    const d1 = fpr[k] - (1 - tpr[k]);
    if (d1 < 0) continue;
    const d0 = fpr[k - 1] - (1 - tpr[k - 1]);
    const t = d1 === d0 ? 0 : -d0 / (d1 - d0);
    return { eer: fpr[k - 1] + t * (fpr[k] - fpr[k - 1]), threshold: thresholds[k] };
  }
  // Unreachable: the last point is (1, 1), where FAR - FRR = 1.
  throw new Error('EER: the ROC curve does not reach (1, 1)');
}

/** TAR at one target FAR. */
export interface TarAtFar {
  /** The target false accept rate. */
  readonly far: number;
  /**
   * Whether the estimate means anything: it needs at least 1/FAR impostor pairs, otherwise the only
   * FAR reachable at or below the target is 0 and the number says nothing about this FAR.
   */
  readonly reliable: boolean;
  /** True accept rate at the loosest threshold whose FAR <= target; null when unreliable. */
  readonly tar: number | null;
  /** Accept when score >= threshold; null when unreliable or when no threshold qualifies (accept nothing). */
  readonly threshold: number | null;
  /** The FAR actually reached at that threshold (<= far). */
  readonly achievedFar: number | null;
  /** Why the value is missing, when it is. */
  readonly note?: string;
}

/** The FARs reported by default: 1e-1 down to 1e-6. */
export const DEFAULT_FARS: readonly number[] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/** Last index in a non-decreasing array whose value is <= x (0 when none, since arrays start at 0). */
function lastAtMost(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The highest TAR among ROC points with FAR <= each target, and the threshold that gives it.
 * @param fars target false accept rates in (0, 1]
 */
export function tarAtFar(roc: RocCurve, fars: readonly number[] = DEFAULT_FARS): TarAtFar[] {
  const n = roc.impostorCount;
  return fars.map((far) => {
    if (!(far > 0 && far <= 1)) throw new Error(`TAR@FAR: FAR must be in (0, 1], got ${far}`);
    // A relative tolerance so that, e.g., 1e-3 * 1000 counts as enough pairs despite rounding.
    if (n * far < 1 - 1e-9) {
      const need = Math.ceil(1 / far - 1e-9);
      return {
        far,
        reliable: false,
        tar: null,
        threshold: null,
        achievedFar: null,
        note: `needs at least ${need} impostor pairs, have ${n}`,
      };
    }
    const k = lastAtMost(roc.fpr, far);
    const t = roc.thresholds[k];
    return {
      far,
      reliable: true,
      tar: roc.tpr[k],
      threshold: Number.isFinite(t) ? t : null,
      achievedFar: roc.fpr[k],
    };
  });
}

/** Mean and spread of a score set. */
export interface ScoreStats {
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** Count, mean, population standard deviation, min and max. */
export function scoreStats(s: Scores): ScoreStats {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < s.length; i++) {
    sum += s[i];
    if (s[i] < min) min = s[i];
    if (s[i] > max) max = s[i];
  }
  const mean = s.length ? sum / s.length : NaN;
  let ss = 0;
  for (let i = 0; i < s.length; i++) ss += (s[i] - mean) ** 2;
  return { count: s.length, mean, std: s.length ? Math.sqrt(ss / s.length) : NaN, min, max };
}
