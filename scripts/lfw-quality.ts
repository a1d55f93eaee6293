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
 * --markdown (print the table as Markdown).
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

const set = await readEmbeddings(args.embeddings);
const rowOf = new Map(set.meta.map((m, i) => [m.path, i]));
const [headLine, ...lines] = (await readFile(args.quality, 'utf8')).trim().split('\n');
const head = JSON.parse(headLine) as { recognizer: string; detector: string; threshold: number | null };
const qualityOf = new Map<string, FaceQuality | null>();
for (const l of lines) {
  const r = JSON.parse(l) as { path: string; quality: FaceQuality | null };
  // Scored again from the saved measures, so that the table follows the thresholds in src/face/quality.ts.
  qualityOf.set(r.path, r.quality && scoreQuality(r.quality));
}
const threshold = args.threshold !== undefined ? Number(args.threshold) : head.threshold;
if (threshold === null || !Number.isFinite(threshold)) throw new Error('no threshold: give --threshold T');

const dim = set.dim;
const value = (q: FaceQuality | null | undefined): number | null =>
  q ? (by === 'score' ? q.score : q.factors[by]) : null;

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
  for (let j = 0; j < dim; j++) sim += set.vectors[a * dim + j] * set.vectors[b * dim + j];
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

const header = [
  `bin (min ${by} of the pair)`,
  'pairs',
  'genuine',
  'genuine mean sim',
  'impostor mean sim',
  'accuracy',
  'TAR',
  'FAR',
];
console.log(
  `${head.detector} + ${head.recognizer}; threshold ${threshold}; ${bins} equal-count bins by the pair's min ${by}`,
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
