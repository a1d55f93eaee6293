/**
 * Does the face quality score mean anything? LFW's 6,000 pairs binned by the lower of the two faces' quality
 * scores (equal-count bins), with per bin: pairs, genuine mean similarity, impostor mean similarity, and
 * accuracy, TAR and FAR at the recogniser's calibrated threshold. Scores are recomputed from the saved measures
 * with the current thresholds (DEFAULT_QUALITY_THRESHOLDS). A measurement run once by hand, not a test.
 * It reads what one full pipeline pass saved:
 *
 *   npx tsx scripts/lfw-eval.ts --save /tmp/lfw.bin --save-quality /tmp/lfw-quality.jsonl
 *   npx tsx scripts/lfw-quality.ts --embeddings /tmp/lfw.bin --quality /tmp/lfw-quality.jsonl [--bins 5]
 *
 * Options: --lfw DIR (default ../shared/data/lfw), --threshold T (default: the one the quality file names),
 * --by score|size|sharpness|yaw|pitch|detector (what to bin on: the combined score, or one factor; default score),
 * --raw (with --by a measure: bin on its raw value, not its clipped factor, whose ties at 1 make equal-count bins
 * arbitrary; yaw and pitch by minus their absolute value, so that low is bad throughout), --markdown (print the
 * table as Markdown).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readEmbeddings } from '../src/eval/embeddings-io.js';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { type FaceQuality, type QualityMeasure, scoreQuality } from '../src/face/quality.js';

const { values: args } = parseArgs({
  options: {
    embeddings: { type: 'string' },
    quality: { type: 'string' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    bins: { type: 'string', default: '5' },
    threshold: { type: 'string' },
    by: { type: 'string', default: 'score' },
    markdown: { type: 'boolean', default: false },
    raw: { type: 'boolean', default: false },
  },
});
if (!args.embeddings || !args.quality)
  throw new Error('give --embeddings FILE and --quality FILE (scripts/lfw-eval.ts writes both)');
const by = args.by as 'score' | QualityMeasure;
if (!['score', 'size', 'sharpness', 'yaw', 'pitch', 'detector'].includes(by))
  throw new Error(`bad --by ${by}`);
const bins = Number(args.bins);
if (!Number.isInteger(bins) || bins < 1) throw new Error(`bad --bins ${args.bins}`);

const pairsFile = join(args.lfw, 'pairs.txt');
const list = parsePairs(await readFile(pairsFile, 'utf8'), pairsFile);
const { paths, indexA, indexB } = pairImages(list);

// Comma-separated lists join runs over parts of the pairs (e.g. folds 1-4 and 5-10), same models.
const sets = await Promise.all(args.embeddings.split(',').map((f) => readEmbeddings(f)));
const dim = sets[0].dim;
if (sets.some((x) => x.dim !== dim)) throw new Error('--embeddings files of different dimensions');
const meta = sets.flatMap((x) => x.meta);
const vectors = new Float32Array(meta.length * dim);
sets.reduce((at, x) => (vectors.set(x.vectors, at), at + x.vectors.length), 0);
const rowOf = new Map(meta.map((m, i) => [m.path, i]));
const qualityLines = (await Promise.all(args.quality.split(',').map((f) => readFile(f, 'utf8')))).map((t) =>
  t.trim().split('\n'),
);
const head = JSON.parse(qualityLines[0][0]) as {
  recognizer: string;
  detector: string;
  threshold: number | null;
};
const qualityOf = new Map<string, FaceQuality | null>();
for (const l of qualityLines.flatMap((ls) => ls.slice(1))) {
  const r = JSON.parse(l) as { path: string; quality: FaceQuality | null };
  // Scored again from the saved measures, so that the table follows the thresholds in src/face/quality.ts.
  qualityOf.set(r.path, r.quality && scoreQuality(r.quality));
}
const threshold = args.threshold !== undefined ? Number(args.threshold) : head.threshold;
if (threshold === null || !Number.isFinite(threshold)) throw new Error('no threshold: give --threshold T');

function rawValue(q: FaceQuality, m: QualityMeasure): number {
  switch (m) {
    case 'size':
      return q.size.interOcular;
    case 'sharpness':
      return q.sharpness;
    case 'yaw':
      return -Math.abs(q.yaw);
    case 'pitch':
      return -Math.abs(q.pitch);
    case 'detector':
      return q.detectorScore;
  }
}
const value = (q: FaceQuality | null | undefined): number | null =>
  q ? (by === 'score' ? q.score : args.raw ? rawValue(q, by) : q.factors[by]) : null;

interface PairRow {
  readonly sim: number;
  readonly same: boolean;
  /** The lower of the two faces' values; null when either image had no face. */
  readonly q: number | null;
}
const rows: PairRow[] = list.pairs.map((p, i) => {
  const a = rowOf.get(paths[indexA[i]]);
  const b = rowOf.get(paths[indexB[i]]);
  if (a === undefined || b === undefined) throw new Error(`pair ${i}: image missing from ${args.embeddings}`);
  let sim = 0;
  for (let j = 0; j < dim; j++) sim += vectors[a * dim + j] * vectors[b * dim + j];
  const qa = value(qualityOf.get(paths[indexA[i]]));
  const qb = value(qualityOf.get(paths[indexB[i]]));
  return { sim, same: p.same, q: qa === null || qb === null ? null : Math.min(qa, qb) };
});

const mean = (v: number[]): number => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : Number.NaN);
function stats(label: string, group: PairRow[]): string[] {
  const gen = group.filter((r) => r.same);
  const imp = group.filter((r) => !r.same);
  const right = group.filter((r) => r.same === r.sim >= threshold!).length;
  const pct = (v: number): string => (Number.isNaN(v) ? '-' : `${(100 * v).toFixed(2)}%`);
  return [
    label,
    String(group.length),
    String(gen.length),
    mean(gen.map((r) => r.sim)).toFixed(3),
    mean(imp.map((r) => r.sim)).toFixed(3),
    pct(right / group.length),
    pct(gen.filter((r) => r.sim >= threshold!).length / gen.length),
    pct(imp.filter((r) => r.sim >= threshold!).length / imp.length),
  ];
}

const scored = rows.filter((r) => r.q !== null).sort((x, y) => x.q! - y.q!);
const table: string[][] = [];
for (let k = 0; k < bins; k++) {
  const group = scored.slice(
    Math.floor((k * scored.length) / bins),
    Math.floor(((k + 1) * scored.length) / bins),
  );
  if (group.length === 0) continue;
  const range = `${group[0].q!.toFixed(3)}-${group[group.length - 1].q!.toFixed(3)}`;
  table.push(stats(`${k + 1} (${range})`, group));
}
const unscored = rows.filter((r) => r.q === null);
if (unscored.length) table.push(stats('no face in one image', unscored));
table.push(stats('all', rows));

const what = args.raw && by !== 'score' ? `raw ${by}` : by;
const header = [
  `bin (min ${what} of the pair)`,
  'pairs',
  'genuine',
  'genuine mean sim',
  'impostor mean sim',
  'accuracy',
  'TAR',
  'FAR',
];
console.log(
  `${head.detector} + ${head.recognizer}; threshold ${threshold}; ${bins} equal-count bins by the pair's min ${what}`,
);
if (args.markdown) {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of table) console.log(`| ${r.join(' | ')} |`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const r of table) console.log(line(r));
}
