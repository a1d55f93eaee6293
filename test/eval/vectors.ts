/** The scikit-learn reference vectors (scripts/make_eval_vectors.py), typed. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface RocCase {
  name: string;
  genuine: number[];
  impostor: number[];
  fpr: number[];
  tpr: number[];
  thresholds: number[];
  auc: number;
  eer: number;
  eerThreshold: number;
  tarAtFar: { far: number; tar: number | null; threshold: number | null; achievedFar: number | null }[];
  bestAccuracy: number;
}

export interface EvalVectors {
  fars: number[];
  fpirs: number[];
  roc: RocCase[];
  identification: {
    dim: number;
    gallery: number[];
    matedProbes: number[];
    matedIdentity: number[];
    nonMatedProbes: number[];
    cmc: number[];
    dirAtFpir: { fpir: number; dir: number | null; threshold?: number; achievedFpir?: number }[];
  };
  allPairs: {
    dim: number;
    embeddings: number[];
    labels: number[];
    genuinePairs: number;
    impostorPairs: number;
    auc: number;
    genuineMean: number;
  };
}

export const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/eval-vectors.json', import.meta.url)), 'utf8'),
) as EvalVectors;
