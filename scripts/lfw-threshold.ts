/**
 * What a verification threshold costs on LFW: from embeddings saved by `arcface eval --save-embeddings`,
 * the 10-fold protocol's mean best-accuracy threshold (the calibrated threshold the zoo ships) and the
 * FAR and TAR it gives over all 6,000 pairs; `--threshold T` reports another value's. A measurement run by
 * hand, not a test:
 *
 *   npx tsx scripts/lfw-threshold.ts --embeddings emb.bin [--pairs ../shared/data/lfw/pairs.txt] [--threshold T]
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readEmbeddings } from '../src/eval/embeddings-io.js';
import { embeddingsForPaths } from '../src/eval/pair-embeddings.js';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { verifyPairs } from '../src/eval/verification.js';

const { values: args } = parseArgs({
  options: {
    embeddings: { type: 'string' },
    pairs: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw', 'pairs.txt') },
    threshold: { type: 'string', multiple: true },
  },
});
if (!args.embeddings) {
  console.error('usage: npx tsx scripts/lfw-threshold.ts --embeddings FILE [--pairs FILE] [--threshold T]');
  process.exit(2);
}

const list = parsePairs(await readFile(args.pairs, 'utf8'), args.pairs);
const images = pairImages(list);
const emb = embeddingsForPaths(await readEmbeddings(args.embeddings), images.paths);
if (emb.failures.length > 0) throw new Error(`${emb.failures.length} pair images have no embedding`);
const d = emb.dim;
const scores = Float32Array.from(list.pairs, (_, i) => {
  let s = 0;
  for (let j = 0; j < d; j++)
    s += emb.vectors[images.indexA[i] * d + j] * emb.vectors[images.indexB[i] * d + j];
  return s;
});
const same = Uint8Array.from(list.pairs, (p) => (p.same ? 1 : 0));
const folds = list.folds ? Int32Array.from(list.pairs, (p) => p.fold) : null;
const { summary } = verifyPairs(scores, same, folds);
const kf = summary.kfold!;

/** Accepted shares at threshold t: FAR over impostor pairs, TAR over genuine pairs, and pair accuracy. */
function at(t: number): { far: number; tar: number; accuracy: number } {
  let fa = 0;
  let ta = 0;
  let g = 0;
  for (let i = 0; i < scores.length; i++) {
    if (same[i] === 1) {
      g++;
      if (scores[i] >= t) ta++;
    } else if (scores[i] >= t) fa++;
  }
  const imp = scores.length - g;
  return { far: fa / imp, tar: ta / g, accuracy: (ta + imp - fa) / scores.length };
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
console.log(
  `${list.pairs.length} pairs: 10-fold accuracy ${pct(kf.accuracyMean)} +- ${pct(kf.accuracyStd)}, ` +
    `mean best-accuracy threshold ${kf.thresholdMean?.toFixed(4)}`,
);
const thresholds = [kf.thresholdMean ?? NaN, ...(args.threshold ?? []).map(Number)];
for (const t of thresholds) {
  const r = at(t);
  console.log(
    `threshold ${t.toFixed(4)}: FAR ${pct(r.far)}  TAR ${pct(r.tar)}  accuracy on all pairs ${pct(r.accuracy)}`,
  );
}
