import { describe, expect, it } from 'vitest';
import { l2Normalize } from '../../src/eval/similarity.js';
import {
  CLUSTER_METHODS,
  clusterEmbeddings,
  clusterGraph,
  clusterThreshold,
} from '../../src/gallery/cluster.js';
import { neighbourGraph } from '../../src/gallery/neighbours.js';
import { seededRandom } from '../../src/util/random.js';
import { clusterVectors, samePartition } from './cluster-vectors.js';

const DIM = 32;

/** Gaussian draws (Box-Muller) from a seeded uniform source. */
function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Groups of the given sizes around random centres (cosine to the centre about 0.95), then singletons. */
function synthetic(sizes: readonly number[], singletons: number, seed: number) {
  const rnd = seededRandom(seed);
  const rows: number[] = [];
  const truth: number[] = [];
  const point = (centre: number[] | null, noise: number): void => {
    for (let k = 0; k < DIM; k++) rows.push((centre ? centre[k] : 0) + noise * gaussian(rnd));
  };
  sizes.forEach((size, g) => {
    const centre = Array.from({ length: DIM }, () => gaussian(rnd) / Math.sqrt(DIM));
    for (let i = 0; i < size; i++) {
      point(centre, 0.05);
      truth.push(g);
    }
  });
  for (let s = 0; s < singletons; s++) {
    point(null, 1);
    truth.push(-1);
  }
  return { normed: l2Normalize(Float32Array.from(rows), DIM), truth };
}

describe('neighbourGraph', () => {
  it('lists each row\u2019s most similar other rows, best first, as a brute-force scan does', async () => {
    const { normed } = synthetic([6, 4], 5, 3);
    const n = normed.length / DIM;
    const g = await neighbourGraph(normed, DIM, 4, { maxElements: 3 * n });
    expect([g.n, g.k]).toEqual([n, 4]);
    for (let i = 0; i < n; i++) {
      const all = Array.from({ length: n }, (_, j) => {
        let d = 0;
        for (let k = 0; k < DIM; k++) d += normed[i * DIM + k] * normed[j * DIM + k];
        return { j, d };
      })
        .filter((x) => x.j !== i)
        .sort((a, b) => b.d - a.d);
      const got = Array.from(g.index.subarray(i * 4, i * 4 + 4));
      expect(got).toEqual(all.slice(0, 4).map((x) => x.j));
      for (let t = 0; t < 4; t++) expect(g.score[i * 4 + t]).toBeCloseTo(all[t].d, 5);
    }
  });

  it('clips k to n - 1 and rejects rows that do not fit dim', async () => {
    const { normed } = synthetic([3], 0, 1);
    expect((await neighbourGraph(normed, DIM, 10)).k).toBe(2);
    await expect(neighbourGraph(normed.subarray(1), DIM, 2)).rejects.toThrow(/do not make rows of 32/);
  });
});

describe('clustering', () => {
  const sizes = [8, 6, 5, 3, 2];
  const { normed, truth } = synthetic(sizes, 4, 7);

  for (const method of CLUSTER_METHODS) {
    it(`${method} recovers known groups and leaves singletons unclustered`, async () => {
      const c = await clusterEmbeddings(normed, DIM, {
        method,
        threshold: 0.7,
        rankThreshold: 1.6,
        k: 8,
      });
      expect(c.groups.map((g) => g.length)).toEqual(sizes);
      expect(samePartition(c.labels, truth)).toBe(true);
      const singles = truth.flatMap((t, i) => (t < 0 ? [i] : []));
      expect(c.unclustered).toEqual(singles);
    });
  }

  it('average linkage on the full graph equals scikit-learn\u2019s AgglomerativeClustering', async () => {
    const v = clusterVectors;
    const x = Float32Array.from(v.embeddings);
    const n = v.labels.length;
    const g = await neighbourGraph(x, v.dim, n - 1);
    const c = clusterGraph(g, x, v.dim, {
      method: 'average',
      threshold: v.agglomerative.threshold,
      minSize: 1,
    });
    expect(samePartition(c.labels, v.agglomerative.labels)).toBe(true);
    // The fixture is not trivial: sklearn's answer is neither the truth nor all apart.
    expect(new Set(v.agglomerative.labels).size).toBeGreaterThan(3);
  });

  it('DBSCAN equals scikit-learn\u2019s DBSCAN, noise and border points included', async () => {
    const v = clusterVectors;
    const x = Float32Array.from(v.embeddings);
    const g = await neighbourGraph(x, v.dim, v.labels.length - 1);
    const c = clusterGraph(g, x, v.dim, {
      method: 'dbscan',
      threshold: v.dbscan.threshold,
      minPoints: v.dbscan.minSamples,
      minSize: 1,
    });
    expect(samePartition(c.labels, v.dbscan.labels)).toBe(true);
    expect(v.dbscan.labels.filter((l) => l < 0).length).toBeGreaterThan(0);
  });

  it('Chinese whispers replays with the same seed', async () => {
    const g = await neighbourGraph(normed, DIM, 8);
    const a = clusterGraph(g, normed, DIM, { method: 'whispers', threshold: 0.3, seed: 5 });
    const b = clusterGraph(g, normed, DIM, { method: 'whispers', threshold: 0.3, seed: 5 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
  });

  it('a lower threshold merges more: components at -1 make one group', async () => {
    const c = await clusterEmbeddings(normed, DIM, { method: 'components', threshold: -1, k: 8 });
    expect(c.groups).toHaveLength(1);
    expect(c.unclustered).toEqual([]);
  });

  it('names bad options', async () => {
    const g = await neighbourGraph(normed, DIM, 4);
    expect(() => clusterGraph(g, normed, DIM, { method: 'components' })).toThrow(
      /needs a similarity threshold/,
    );
    expect(() => clusterGraph(g, normed, DIM, { method: 'average', threshold: 2 })).toThrow(
      /in \[-1, 1\], got 2/,
    );
    expect(() => clusterGraph(g, normed, DIM, { method: 'nope' as 'average', threshold: 0.5 })).toThrow(
      /unknown method 'nope'/,
    );
    expect(() => clusterGraph(g, normed.subarray(DIM), DIM, { method: 'average', threshold: 0.5 })).toThrow(
      /floats for a graph of/,
    );
  });
});

describe('clusterThreshold', () => {
  it('prefers the given threshold, then the one measured for clustering, then the verification one', () => {
    expect(clusterThreshold('average', 'faceapi:resnet34', 0.913, 0.5)).toEqual({
      threshold: 0.5,
      source: 'given',
    });
    expect(clusterThreshold('whispers', 'faceapi:resnet34', 0.913)).toEqual({
      threshold: 0.955,
      source: 'measured for clustering',
    });
    expect(clusterThreshold('average', 'onnx:/m.onnx', 0.29)).toEqual({
      threshold: 0.29,
      source: 'verification threshold',
    });
    expect(clusterThreshold('rank-order', 'faceapi:resnet34', 0.913).threshold).toBeUndefined();
  });
});
