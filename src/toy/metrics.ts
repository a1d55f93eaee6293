/**
 * Angular metrics of embeddings, as in the ArcFace paper's 2-D toy figure. All angles are in
 * degrees.
 *
 * Definitions (features f_i with class labels y_i):
 * - unit feature: u_i = f_i / |f_i|.
 * - class centre of class k: the direction of the mean of its unit features,
 *   c_k = mean(u_i | y_i = k) / |mean(u_i | y_i = k)|.
 * - spread of class k: the angles acos(u_i . c_k) of its features to its centre; reported as their
 *   mean and their maximum.
 * - (2-D only) offset of a feature: its signed angle from its class centre, wrapped into
 *   (-180, 180]; counter-clockwise is positive. The angular extent of class k is the arc
 *   [centre + min offset, centre + max offset]: the smallest arc through the centre that holds all
 *   of the class's features (with `coverage` < 1, only the share of features nearest the centre).
 * - neighbouring classes: consecutive classes when the centres are sorted by angle around the
 *   circle (the last and the first are neighbours too).
 * - gap between neighbours A and B (B next counter-clockwise from A): the empty arc between A's
 *   counter-clockwise-most feature and B's clockwise-most feature,
 *   gap = angle(c_A -> c_B, counter-clockwise) + min offset_B - max offset_A.
 *   It is negative when the two extents overlap (by that many degrees).
 * - smallest gap: the minimum over all neighbouring pairs.
 */

const DEG = 180 / Math.PI;

/** Wrap an angle in degrees into (-180, 180]. */
export function wrapDegrees(a: number): number {
  let r = a % 360;
  if (r <= -180) r += 360;
  if (r > 180) r -= 360;
  return r;
}

/** Row-wise L2-normalised copy of [n, d] features; a zero row stays zero. */
export function unitFeatures(features: Float32Array | Float64Array, dim: number): Float64Array {
  const n = features.length / dim;
  if (!Number.isInteger(n)) throw new Error(`metrics: ${features.length} values are not rows of ${dim}`);
  const out = new Float64Array(features.length);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += features[i * dim + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[i * dim + j] = features[i * dim + j] * inv;
  }
  return out;
}

/** Per-class angular statistics. */
export interface ClassSpread {
  /** Samples of the class. */
  readonly count: number;
  /** Centre direction, unit length [dim] (NaN when the class has no samples). */
  readonly centre: number[];
  /** Mean angle of the class's features to its centre, degrees. */
  readonly meanDeg: number;
  /** Largest angle of a feature to its centre, degrees. */
  readonly maxDeg: number;
}

/**
 * Class centres and spreads.
 * @param features [n, dim] row-major (normalised here)
 * @param labels class of every row, 0..numClasses-1
 */
export function classSpreads(
  features: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  dim: number,
  numClasses: number,
): ClassSpread[] {
  const u = unitFeatures(features, dim);
  const n = labels.length;
  if (u.length !== n * dim) throw new Error(`metrics: ${labels.length} labels for ${u.length / dim} rows`);
  const sums = Array.from({ length: numClasses }, () => new Float64Array(dim));
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < n; i++) {
    const k = labels[i];
    counts[k]++;
    for (let j = 0; j < dim; j++) sums[k][j] += u[i * dim + j];
  }
  const centres = sums.map((s) => {
    const norm = Math.hypot(...s);
    return Array.from(s, (v) => (norm > 0 ? v / norm : Number.NaN));
  });
  const totals = new Array<number>(numClasses).fill(0);
  const maxes = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < n; i++) {
    const k = labels[i];
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += u[i * dim + j] * centres[k][j];
    const a = Math.acos(Math.min(1, Math.max(-1, dot))) * DEG;
    totals[k] += a;
    maxes[k] = Math.max(maxes[k], a);
  }
  return centres.map((centre, k) => ({
    count: counts[k],
    centre,
    meanDeg: counts[k] > 0 ? totals[k] / counts[k] : Number.NaN,
    maxDeg: counts[k] > 0 ? maxes[k] : Number.NaN,
  }));
}

/** A class's angular extent on the circle (2-D). */
export interface ClassExtent {
  readonly cls: number;
  /** Angle of the class centre, degrees in (-180, 180]. */
  readonly centreDeg: number;
  /** Smallest and largest offset of the (kept) features from the centre, degrees. */
  readonly minOffsetDeg: number;
  readonly maxOffsetDeg: number;
}

/** The gap between two neighbouring classes (2-D). */
export interface NeighbourGap {
  /** The class clockwise of the gap, and the one counter-clockwise of it. */
  readonly from: number;
  readonly to: number;
  /** Empty arc between them, degrees; negative = overlap. */
  readonly gapDeg: number;
}

export interface AngularLayout {
  readonly extents: ClassExtent[];
  /** One gap per neighbouring pair, in counter-clockwise order of the centres. */
  readonly gaps: NeighbourGap[];
  /** The smallest gap (undefined with fewer than two classes). */
  readonly smallest: NeighbourGap | undefined;
}

/**
 * Extents of the classes on the circle and the gaps between neighbours, for 2-D features.
 * @param coverage share of each class's features the extent must hold, those nearest the centre;
 *   1 (default) = all of them
 */
export function angularLayout(
  features: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  numClasses: number,
  coverage = 1,
): AngularLayout {
  if (!(coverage > 0 && coverage <= 1))
    throw new Error(`metrics: coverage must be in (0, 1], got ${coverage}`);
  const spreads = classSpreads(features, labels, 2, numClasses);
  const u = unitFeatures(features, 2);
  const offsets = Array.from({ length: numClasses }, () => [] as number[]);
  const centreDeg = spreads.map((s) => Math.atan2(s.centre[1], s.centre[0]) * DEG);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    const a = Math.atan2(u[2 * i + 1], u[2 * i]) * DEG;
    offsets[k].push(wrapDegrees(a - centreDeg[k]));
  }
  const extents: ClassExtent[] = [];
  for (let k = 0; k < numClasses; k++) {
    if (offsets[k].length === 0) continue;
    const kept = [...offsets[k]].sort((a, b) => Math.abs(a) - Math.abs(b));
    kept.length = Math.max(1, Math.ceil(coverage * kept.length - 1e-9));
    extents.push({
      cls: k,
      centreDeg: centreDeg[k],
      minOffsetDeg: Math.min(...kept),
      maxOffsetDeg: Math.max(...kept),
    });
  }
  const ring = [...extents].sort((a, b) => a.centreDeg - b.centreDeg);
  const gaps: NeighbourGap[] = [];
  if (ring.length >= 2) {
    ring.forEach((a, i) => {
      const b = ring[(i + 1) % ring.length];
      let between = b.centreDeg - a.centreDeg;
      if (between < 0 || (between === 0 && i === ring.length - 1)) between += 360;
      gaps.push({ from: a.cls, to: b.cls, gapDeg: between + b.minOffsetDeg - a.maxOffsetDeg });
    });
  }
  const smallest = gaps.reduce<NeighbourGap | undefined>(
    (m, g) => (!m || g.gapDeg < m.gapDeg ? g : m),
    undefined,
  );
  return { extents, gaps, smallest };
}
