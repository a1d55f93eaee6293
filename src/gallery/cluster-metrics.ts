/**
 * How well a clustering recovers the true identities: pairwise precision / recall / F (over pairs of
 * items put together), BCubed precision / recall / F (per item, averaged; Bagga and Baldwin 1998), and
 * counts. Unclustered items (label -1) each count as a cluster of one, the convention of the face
 * clustering literature (Otto, Wang and Jain 2018), so leaving a face out costs recall, never precision.
 */

/** Scores of one clustering against the truth. */
export interface ClusterScores {
  readonly items: number;
  /** Distinct true identities. */
  readonly classes: number;
  /** Predicted clusters, unclustered items counted one each. */
  readonly clusters: number;
  /** Predicted groups of two or more items. */
  readonly groups: number;
  /** Items in no group (label -1 or alone in their cluster). */
  readonly unclustered: number;
  /** Same-cluster pairs that are same-identity pairs, over same-cluster pairs (1 when there are none). */
  readonly pairwisePrecision: number;
  /** Same-cluster pairs that are same-identity pairs, over same-identity pairs (1 when there are none). */
  readonly pairwiseRecall: number;
  readonly pairwiseF: number;
  /** Mean over items of |cluster ∩ identity| / |cluster|. */
  readonly bcubedPrecision: number;
  /** Mean over items of |cluster ∩ identity| / |identity|. */
  readonly bcubedRecall: number;
  readonly bcubedF: number;
}

const pairs = (m: number): number => (m * (m - 1)) / 2;
const harmonic = (p: number, r: number): number => (p + r > 0 ? (2 * p * r) / (p + r) : 0);

/**
 * Score a clustering.
 * @param predicted per item, its cluster id; any negative id means unclustered (a cluster of its own)
 * @param truth per item, its identity
 * @throws when the lengths differ or there are no items
 */
export function scoreClustering(
  predicted: ArrayLike<number>,
  truth: readonly (string | number)[],
): ClusterScores {
  const n = truth.length;
  if (predicted.length !== n) {
    throw new Error(`scoreClustering: ${predicted.length} predicted labels for ${n} true labels`);
  }
  if (n === 0) throw new Error('scoreClustering: no items');
  // Unclustered items become clusters of their own, with ids past every real one.
  const clusterOf = new Int32Array(n);
  const ids = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const p = predicted[i];
    if (!Number.isInteger(p)) throw new Error(`scoreClustering: item ${i} has cluster ${p}`);
    if (p < 0) continue;
    let id = ids.get(p);
    if (id === undefined) ids.set(p, (id = ids.size));
    clusterOf[i] = id;
  }
  let nextId = ids.size;
  for (let i = 0; i < n; i++) if (predicted[i] < 0) clusterOf[i] = nextId++;
  const classIds = new Map<string | number, number>();
  const classOf = Int32Array.from(truth, (t) => {
    let id = classIds.get(t);
    if (id === undefined) classIds.set(t, (id = classIds.size));
    return id;
  });
  const clusterSize = new Float64Array(nextId);
  const classSize = new Float64Array(classIds.size);
  const joint = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    clusterSize[clusterOf[i]]++;
    classSize[classOf[i]]++;
    const key = clusterOf[i] * classIds.size + classOf[i];
    joint.set(key, (joint.get(key) ?? 0) + 1);
  }
  let together = 0;
  let same = 0;
  let both = 0;
  for (const m of clusterSize) together += pairs(m);
  for (const m of classSize) same += pairs(m);
  for (const m of joint.values()) both += pairs(m);
  // BCubed: every item of a (cluster, class) cell scores cell/cluster and cell/class.
  let bp = 0;
  let br = 0;
  for (const [key, m] of joint) {
    const c = Math.floor(key / classIds.size);
    const l = key % classIds.size;
    bp += (m * m) / clusterSize[c];
    br += (m * m) / classSize[l];
  }
  const pairwisePrecision = together > 0 ? both / together : 1;
  const pairwiseRecall = same > 0 ? both / same : 1;
  let groups = 0;
  let unclustered = 0;
  for (const m of clusterSize) {
    if (m >= 2) groups++;
    else unclustered++;
  }
  return {
    items: n,
    classes: classIds.size,
    clusters: nextId,
    groups,
    unclustered,
    pairwisePrecision,
    pairwiseRecall,
    pairwiseF: harmonic(pairwisePrecision, pairwiseRecall),
    bcubedPrecision: bp / n,
    bcubedRecall: br / n,
    bcubedF: harmonic(bp / n, br / n),
  };
}
