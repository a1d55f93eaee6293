/**
 * Group face embeddings by person, without labels. Every method works on the k-nearest-neighbour graph
 * (src/gallery/neighbours.ts), so memory stays O(n k) and 13,233 LFW faces cluster in seconds:
 *
 * - `components`: link every pair with cosine similarity >= threshold, take connected components;
 * - `whispers`: Chinese whispers (Biemann 2006) on the same thresholded graph, edge weight = similarity;
 * - `average`: agglomerative clustering with average linkage, merging while the best pair's mean
 *   pairwise similarity is >= threshold. For unit vectors the mean of the |A| x |B| cosines is the dot
 *   product of the two clusters' mean vectors, so each candidate is scored exactly in O(dim) from
 *   running sums; candidates are cluster pairs joined by a k-NN edge, so the only approximation is a
 *   pair that no k-NN edge joins (with the full graph, k = n - 1, it is scikit-learn's average linkage);
 * - `dbscan`: DBSCAN with eps = 1 - threshold in cosine distance and `minPts` counting the point itself,
 *   border points going to the first cluster that reaches them, as scikit-learn does;
 * - `rank-order`: approximate rank-order clustering (Otto, Wang and Jain, TPAMI 2018): pairs within
 *   each other's top-k are linked when their rank-order distance is below `rankThreshold`, then
 *   connected components.
 * Which one the CLI uses, and why, is measured on LFW in docs/CLUSTERING.md.
 */
import { seededRandom } from '../util/random.js';
import { type NeighbourGraph, type NeighbourOptions, neighbourGraph } from './neighbours.js';

/** The clustering algorithms. */
export type ClusterMethod = 'components' | 'whispers' | 'average' | 'dbscan' | 'rank-order';

export const CLUSTER_METHODS: readonly ClusterMethod[] = [
  'components',
  'whispers',
  'average',
  'dbscan',
  'rank-order',
];

/** Options for {@link clusterGraph} and {@link clusterEmbeddings}. */
export interface ClusterOptions {
  readonly method: ClusterMethod;
  /**
   * Cosine similarity in [-1, 1]: the edge threshold (`components`, `whispers`), the smallest mean
   * similarity merged (`average`), 1 - eps (`dbscan`). Unused by `rank-order` unless given, when it also
   * drops rank-order links between faces less similar than this.
   */
  readonly threshold?: number;
  /** Rank-order distance below which two faces are linked (`rank-order`, default 1.6). */
  readonly rankThreshold?: number;
  /** DBSCAN's minimum neighbourhood size, the point included (default 2). */
  readonly minPoints?: number;
  /** Chinese whispers: passes at most (default 20) and the seed of the visiting order (default 0). */
  readonly iterations?: number;
  readonly seed?: number;
  /** Groups smaller than this are reported as unclustered (default 2: a group needs two faces). */
  readonly minSize?: number;
}

/** A partition of the rows. */
export interface Clustering {
  /** Per row, its group (0 = the largest), or -1 for unclustered. */
  readonly labels: Int32Array;
  /** Rows per group, largest group first (ties by first row); every group has >= minSize rows. */
  readonly groups: readonly (readonly number[])[];
  /** Rows in no group, ascending. */
  readonly unclustered: readonly number[];
}

function checkThreshold(opts: ClusterOptions): number {
  const t = opts.threshold;
  if (t === undefined) throw new Error(`cluster: method '${opts.method}' needs a similarity threshold`);
  if (!(t >= -1 && t <= 1))
    throw new Error(`cluster: threshold must be a cosine similarity in [-1, 1], got ${t}`);
  return t;
}

/** Symmetric adjacency in compressed rows, each row's neighbours ascending, no self-loops. */
interface Adjacency {
  readonly start: Int32Array;
  readonly neighbour: Int32Array;
  readonly weight: Float32Array;
}

/** Edges of the k-NN graph with similarity >= threshold, made symmetric (i lists j or j lists i). */
function thresholdedAdjacency(g: NeighbourGraph, threshold: number): Adjacency {
  const { n, k } = g;
  // Both directions of every kept edge, bucketed by row (counting sort), then each row sorted and deduplicated.
  const count = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let t = i * k; t < (i + 1) * k && g.score[t] >= threshold; t++) {
      count[i + 1]++;
      count[g.index[t] + 1]++;
    }
  }
  for (let i = 0; i < n; i++) count[i + 1] += count[i];
  const fill = count.slice(0, n);
  const rawNeighbour = new Int32Array(count[n]);
  const rawWeight = new Float32Array(count[n]);
  for (let i = 0; i < n; i++) {
    for (let t = i * k; t < (i + 1) * k && g.score[t] >= threshold; t++) {
      const j = g.index[t];
      rawNeighbour[fill[i]] = j;
      rawWeight[fill[i]++] = g.score[t];
      rawNeighbour[fill[j]] = i;
      rawWeight[fill[j]++] = g.score[t];
    }
  }
  const start = new Int32Array(n + 1);
  const neighbour = new Int32Array(count[n]);
  const weight = new Float32Array(count[n]);
  let out = 0;
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    order.length = 0;
    for (let e = count[i]; e < count[i + 1]; e++) order.push(e);
    order.sort((x, y) => rawNeighbour[x] - rawNeighbour[y]);
    let last = -1;
    for (const e of order) {
      if (rawNeighbour[e] === last) continue;
      last = rawNeighbour[e];
      neighbour[out] = last;
      weight[out++] = rawWeight[e];
    }
    start[i + 1] = out;
  }
  return { start, neighbour: neighbour.slice(0, out), weight: weight.slice(0, out) };
}

/** Union-find with path halving and union by size. */
class DisjointSets {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.size = new Int32Array(n).fill(1);
  }
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }
  union(x: number, y: number): void {
    let a = this.find(x);
    let b = this.find(y);
    if (a === b) return;
    if (this.size[a] < this.size[b]) [a, b] = [b, a];
    this.parent[b] = a;
    this.size[a] += this.size[b];
  }
}

/** Any per-row group id (-1 = none) to a {@link Clustering}: groups by size, small ones unclustered. */
export function toClustering(raw: ArrayLike<number>, minSize = 2): Clustering {
  const members = new Map<number, number[]>();
  const unclustered: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] < 0) continue;
    const list = members.get(raw[i]);
    if (list) list.push(i);
    else members.set(raw[i], [i]);
  }
  const groups: number[][] = [];
  for (const rows of members.values()) {
    if (rows.length >= minSize) groups.push(rows);
  }
  groups.sort((x, y) => y.length - x.length || x[0] - y[0]);
  const labels = new Int32Array(raw.length).fill(-1);
  groups.forEach((rows, gi) => rows.forEach((r) => (labels[r] = gi)));
  for (let i = 0; i < raw.length; i++) if (labels[i] < 0) unclustered.push(i);
  return { labels, groups, unclustered };
}

function components(adj: Adjacency, n: number): Int32Array {
  const sets = new DisjointSets(n);
  for (let i = 0; i < n; i++) {
    for (let e = adj.start[i]; e < adj.start[i + 1]; e++) sets.union(i, adj.neighbour[e]);
  }
  return Int32Array.from({ length: n }, (_, i) => sets.find(i));
}

function whispers(adj: Adjacency, n: number, iterations: number, seed: number): Int32Array {
  const label = Int32Array.from({ length: n }, (_, i) => i);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rnd = seededRandom(seed);
  const sum = new Float64Array(n);
  const touched: number[] = [];
  for (let pass = 0; pass < iterations; pass++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let changed = 0;
    for (const v of order) {
      if (adj.start[v] === adj.start[v + 1]) continue;
      for (let e = adj.start[v]; e < adj.start[v + 1]; e++) {
        const l = label[adj.neighbour[e]];
        if (sum[l] === 0) touched.push(l);
        sum[l] += adj.weight[e];
      }
      // The heaviest label wins; a tie keeps the current label (or the first seen), so runs replay.
      let best = label[v];
      let bestSum = sum[best];
      for (const l of touched) {
        if (sum[l] > bestSum) {
          best = l;
          bestSum = sum[l];
        }
      }
      for (const l of touched) sum[l] = 0;
      touched.length = 0;
      if (best !== label[v]) {
        label[v] = best;
        changed++;
      }
    }
    if (changed === 0) break;
  }
  return label;
}

function dbscan(adj: Adjacency, n: number, minPoints: number): Int32Array {
  const core = Uint8Array.from({ length: n }, (_, i) =>
    adj.start[i + 1] - adj.start[i] + 1 >= minPoints ? 1 : 0,
  );
  const label = new Int32Array(n).fill(-1);
  let next = 0;
  const stack: number[] = [];
  // scikit-learn's dbscan_inner, step for step, so border points land in the same cluster.
  for (let seed = 0; seed < n; seed++) {
    if (label[seed] !== -1 || !core[seed]) continue;
    let i = seed;
    for (;;) {
      if (label[i] === -1) {
        label[i] = next;
        if (core[i]) {
          for (let e = adj.start[i]; e < adj.start[i + 1]; e++) {
            if (label[adj.neighbour[e]] === -1) stack.push(adj.neighbour[e]);
          }
        }
      }
      const top = stack.pop();
      if (top === undefined) break;
      i = top;
    }
    next++;
  }
  return label;
}

/** A binary max-heap of candidate merges (score, a, b, and the versions of a and b when scored). */
class MergeHeap {
  private score = new Float64Array(1024);
  private ends = new Int32Array(4 * 1024);
  size = 0;
  push(s: number, a: number, b: number, va: number, vb: number): void {
    if (this.size === this.score.length) {
      const score = new Float64Array(this.size * 2);
      score.set(this.score);
      this.score = score;
      const ends = new Int32Array(this.size * 8);
      ends.set(this.ends);
      this.ends = ends;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.score[p] >= s) break;
      this.move(p, i);
      i = p;
    }
    this.score[i] = s;
    this.ends.set([a, b, va, vb], 4 * i);
  }
  /** Score and ends of the best entry (do not keep the array: it is reused). */
  peek(out: Int32Array): number {
    out.set(this.ends.subarray(0, 4));
    return this.score[0];
  }
  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    const s = this.score[last];
    const ends = this.ends.slice(4 * last, 4 * last + 4);
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.score[c + 1] > this.score[c]) c++;
      if (this.score[c] <= s) break;
      this.move(c, i);
      i = c;
    }
    this.score[i] = s;
    this.ends.set(ends, 4 * i);
  }
  private move(from: number, to: number): void {
    this.score[to] = this.score[from];
    this.ends.copyWithin(4 * to, 4 * from, 4 * from + 4);
  }
}

function averageLinkage(g: NeighbourGraph, normed: Float32Array, dim: number, threshold: number): Int32Array {
  const n = g.n;
  const sum = Float64Array.from(normed);
  const size = new Int32Array(n).fill(1);
  const version = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  const neighbours: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (let i = 0; i < n; i++) {
    for (let t = i * g.k; t < (i + 1) * g.k; t++) {
      neighbours[i].add(g.index[t]);
      neighbours[g.index[t]].add(i);
    }
  }
  const link = (a: number, b: number): number => {
    let d = 0;
    for (let k = 0; k < dim; k++) d += sum[a * dim + k] * sum[b * dim + k];
    return d / (size[a] * size[b]);
  };
  const heap = new MergeHeap();
  for (let i = 0; i < n; i++) {
    for (const j of neighbours[i]) {
      if (j > i) {
        const s = link(i, j);
        if (s >= threshold) heap.push(s, i, j, 0, 0);
      }
    }
  }
  const sets = new DisjointSets(n);
  const top = new Int32Array(4);
  while (heap.size > 0) {
    const s = heap.peek(top);
    heap.pop();
    if (s < threshold) break;
    let [a, b] = [top[0], top[1]];
    if (!alive[a] || !alive[b] || version[a] !== top[2] || version[b] !== top[3]) continue;
    // Keep the cluster with more neighbours, so set unions move the smaller side.
    if (neighbours[a].size < neighbours[b].size) [a, b] = [b, a];
    alive[b] = 0;
    sets.union(a, b);
    for (let k = 0; k < dim; k++) sum[a * dim + k] += sum[b * dim + k];
    size[a] += size[b];
    version[a]++;
    neighbours[a].delete(b);
    for (const x of neighbours[b]) {
      if (x === a) continue;
      neighbours[x].delete(b);
      neighbours[x].add(a);
      neighbours[a].add(x);
    }
    neighbours[b].clear();
    for (const x of neighbours[a]) {
      const sx = link(a, x);
      if (sx >= threshold) {
        if (x < a) heap.push(sx, x, a, version[x], version[a]);
        else heap.push(sx, a, x, version[a], version[x]);
      }
    }
  }
  return Int32Array.from({ length: n }, (_, i) => sets.find(i));
}

function rankOrder(g: NeighbourGraph, rankThreshold: number, minSimilarity: number): Int32Array {
  const { n, k } = g;
  // rank[t]: position of g.index[t] in its row's list, self at position 0, neighbours 1..k.
  const positionIn = new Int32Array(n).fill(-1);
  const stampOf = new Int32Array(n).fill(-1);
  const sets = new DisjointSets(n);
  // d(a, b) = number of faces among a's first min(O_a(b), k) + 1 (a itself first) absent from b's list.
  const d = (a: number, b: number, upTo: number): number => {
    let miss = 0;
    for (let i = 0; i <= upTo; i++) {
      const f = i === 0 ? a : g.index[a * k + i - 1];
      if (!(f === b || stampOf[f] === b)) miss++;
    }
    return miss;
  };
  for (let a = 0; a < n; a++) {
    for (let ra = 1; ra <= k; ra++) {
      const t = a * k + ra - 1;
      const b = g.index[t];
      if (g.score[t] < minSimilarity) break;
      if (b < a && sets.find(a) === sets.find(b)) continue;
      // Mark b's list, and find a's position in it (k when absent, as the approximation prescribes).
      let rb = k;
      for (let j = 0; j < k; j++) {
        const f = g.index[b * k + j];
        stampOf[f] = b;
        positionIn[f] = j + 1;
      }
      if (stampOf[a] === b) rb = positionIn[a];
      const dab = d(a, b, Math.min(ra, k));
      // d(b, a) needs a's list marked instead.
      for (let j = 0; j < k; j++) stampOf[g.index[b * k + j]] = -1;
      for (let j = 0; j < k; j++) stampOf[g.index[a * k + j]] = a;
      const dba = d(b, a, Math.min(rb, k));
      for (let j = 0; j < k; j++) stampOf[g.index[a * k + j]] = -1;
      const D = (dab + dba) / Math.min(ra, rb);
      if (D < rankThreshold) sets.union(a, b);
    }
  }
  return Int32Array.from({ length: n }, (_, i) => sets.find(i));
}

/**
 * Cluster rows given their k-NN graph.
 * @param g from {@link neighbourGraph} on the same rows
 * @param normed L2-normalised rows, [g.n, dim] (read by `average` only)
 */
export function clusterGraph(
  g: NeighbourGraph,
  normed: Float32Array,
  dim: number,
  opts: ClusterOptions,
): Clustering {
  if (normed.length !== g.n * dim) {
    throw new Error(`cluster: ${normed.length} floats for a graph of ${g.n} rows of ${dim}`);
  }
  const minSize = opts.minSize ?? 2;
  if (!Number.isInteger(minSize) || minSize < 1)
    throw new Error(`cluster: minSize must be an integer >= 1, got ${minSize}`);
  let raw: Int32Array;
  switch (opts.method) {
    case 'components':
      raw = components(thresholdedAdjacency(g, checkThreshold(opts)), g.n);
      break;
    case 'whispers': {
      const iterations = opts.iterations ?? 20;
      if (!Number.isInteger(iterations) || iterations < 1)
        throw new Error(`cluster: iterations must be an integer >= 1, got ${iterations}`);
      raw = whispers(thresholdedAdjacency(g, checkThreshold(opts)), g.n, iterations, opts.seed ?? 0);
      break;
    }
    case 'average':
      raw = averageLinkage(g, normed, dim, checkThreshold(opts));
      break;
    case 'dbscan': {
      const minPoints = opts.minPoints ?? 2;
      if (!Number.isInteger(minPoints) || minPoints < 1)
        throw new Error(`cluster: minPoints must be an integer >= 1, got ${minPoints}`);
      raw = dbscan(thresholdedAdjacency(g, checkThreshold(opts)), g.n, minPoints);
      break;
    }
    case 'rank-order': {
      const r = opts.rankThreshold ?? 1.6;
      if (!(r > 0)) throw new Error(`cluster: rankThreshold must be > 0, got ${r}`);
      raw = rankOrder(g, r, opts.threshold === undefined ? -Infinity : checkThreshold(opts));
      break;
    }
    default:
      throw new Error(
        `cluster: unknown method '${String(opts.method)}' (expected ${CLUSTER_METHODS.join(', ')})`,
      );
  }
  return toClustering(raw, minSize);
}

/**
 * The method `arcface cluster` uses unless told otherwise: on LFW's 13,233 faces Chinese whispers gave the best
 * pairwise F (0.967) and BCubed F (0.930) of the five, in a fraction of a second (docs/CLUSTERING.md).
 */
export const DEFAULT_CLUSTER_METHOD: ClusterMethod = 'whispers';

/**
 * Similarity thresholds for clustering, per recogniser spec and method: the best pairwise F of each method's
 * sweep on LFW's 13,233 faces, flip on (docs/CLUSTERING.md). They sit well above the verification threshold
 * (0.913 for face-api's ResNet-34), since among thousands of faces one false link can join two people.
 */
export const CLUSTER_THRESHOLDS: Readonly<Record<string, Partial<Record<ClusterMethod, number>>>> = {
  'faceapi:resnet34': { components: 0.965, whispers: 0.955, average: 0.935, dbscan: 0.965 },
};

/** Where a clustering threshold came from. */
export type ThresholdSource = 'given' | 'measured for clustering' | 'verification threshold' | 'none';

/**
 * The threshold to cluster with: the one given, else the one measured on LFW for this recogniser and method,
 * else the recogniser's verification threshold (likely too low for large sets: pass one).
 * @returns undefined threshold when none is known
 */
export function clusterThreshold(
  method: ClusterMethod,
  recognizerSpec: string,
  verifyThreshold: number | undefined,
  given?: number,
): { readonly threshold: number | undefined; readonly source: ThresholdSource } {
  if (given !== undefined) return { threshold: given, source: 'given' };
  // Rank-order needs no similarity threshold; one is applied only when asked for.
  if (method === 'rank-order') return { threshold: undefined, source: 'none' };
  const measured = CLUSTER_THRESHOLDS[recognizerSpec]?.[method];
  if (measured !== undefined) return { threshold: measured, source: 'measured for clustering' };
  return { threshold: verifyThreshold, source: 'verification threshold' };
}

/** Default neighbours per face: enough that a person's photos stay linked, small enough for O(n k) memory. */
export const DEFAULT_NEIGHBOURS = 32;

/**
 * Cluster L2-normalised embeddings: build the k-NN graph in the engine, then {@link clusterGraph}.
 * @param normed [n, dim], unit rows
 * @param opts plus `k`, neighbours per face (default {@link DEFAULT_NEIGHBOURS})
 */
export async function clusterEmbeddings(
  normed: Float32Array,
  dim: number,
  opts: ClusterOptions & NeighbourOptions & { readonly k?: number },
): Promise<Clustering> {
  const g = await neighbourGraph(normed, dim, opts.k ?? DEFAULT_NEIGHBOURS, opts);
  return clusterGraph(g, normed, dim, opts);
}

/**
 * Subtract the rows' mean and L2-normalise again. Some recognisers' embeddings share a large common
 * component (face-api's ResNet-34: impostor cosines average about 0.8), which compresses every similarity
 * into a narrow band near 1; removing it is unsupervised (it uses no labels) and spreads them out.
 * Thresholds measured on raw embeddings do not apply to centred ones.
 * @param normed [n, dim] unit rows; returns a new array
 */
export function centerRows(normed: Float32Array, dim: number): Float32Array {
  const n = normed.length / dim;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`centerRows: ${normed.length} floats do not make rows of ${dim}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += normed[i * dim + k] / n;
  const out = new Float32Array(normed.length);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let k = 0; k < dim; k++) {
      const v = normed[i * dim + k] - mean[k];
      out[i * dim + k] = v;
      ss += v * v;
    }
    // A row equal to the mean (one row, or all rows identical) has no direction left: keep it as it was.
    if (!(ss > 1e-12)) {
      out.set(normed.subarray(i * dim, (i + 1) * dim), i * dim);
      continue;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let k = 0; k < dim; k++) out[i * dim + k] *= inv;
  }
  return out;
}
