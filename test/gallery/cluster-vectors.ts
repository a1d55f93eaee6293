/** The scikit-learn reference vectors for clustering (scripts/make_cluster_vectors.py), typed. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ScoreCase {
  name: string;
  predicted: number[];
  pairwisePrecision: number;
  pairwiseRecall: number;
  pairwiseF: number;
  bcubedPrecision: number;
  bcubedRecall: number;
  bcubedF: number;
}

export interface ClusterVectors {
  dim: number;
  embeddings: number[];
  labels: string[];
  agglomerative: { threshold: number; labels: number[] };
  dbscan: { threshold: number; minSamples: number; labels: number[] };
  scores: ScoreCase[];
}

export const clusterVectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/cluster-vectors.json', import.meta.url)), 'utf8'),
) as ClusterVectors;

/** Whether two labelings make the same partition (-1 = a group of its own per item). */
export function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const ta = a[i] >= 0 && a[i] === a[j];
      const tb = b[i] >= 0 && b[i] === b[j];
      if (ta !== tb) return false;
    }
  }
  return true;
}
