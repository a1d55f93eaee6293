/**
 * Landmark sources side by side on LFW: every image of the first --folds folds of pairs.txt is embedded by
 * one pipeline per --variants entry (same detector, recogniser and flip; only `landmarks` differs), and each
 * variant's 10-fold protocol is run on the folds completed. Embeddings are appended to --out as they are made
 * and a rerun resumes from that file, so a run cut short still reports the folds it finished. A measurement
 * run by hand, not a test:
 *
 *   npx tsx scripts/lfw-landmarks.ts --variants detector,mesh --out /tmp/lfw-landmarks.jsonl [--folds 10]
 *   npx tsx scripts/lfw-landmarks.ts --variants detector,mesh --out /tmp/lfw-landmarks.jsonl --report-only
 *
 * Options: --lfw DIR (default ../shared/data/lfw), --threads N, --recognizer SPEC, --detector SPEC.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { verifyPairs } from '../src/eval/verification.js';
import {
  type FacePipeline,
  type LandmarkSource,
  createFacePipeline,
  parseDetectorSpec,
  parseLandmarkSource,
  parseRecognizerSpec,
} from '../src/face/index.js';

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: 'detector,mesh' },
    folds: { type: 'string', default: '10' },
    out: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    threads: { type: 'string' },
    recognizer: { type: 'string' },
    detector: { type: 'string' },
  },
});
if (!args.out) throw new Error('--out FILE is required (embeddings are appended there)');
const out = args.out;
const variants = args.variants.split(',').map(parseLandmarkSource);
const maxFolds = Number(args.folds);

const pairsFile = join(args.lfw, 'pairs.txt');
const all = parsePairs(await readFile(pairsFile, 'utf8'), pairsFile);
const list = { ...all, pairs: all.pairs.filter((p) => p.fold < maxFolds) };
const { paths, indexA, indexB } = pairImages(list);
console.error(
  `${list.pairs.length} pairs in folds 0..${maxFolds - 1}, ${paths.length} images; variants ${variants.join(', ')}`,
);

interface Row {
  readonly path: string;
  readonly variant: LandmarkSource;
  readonly ms: number;
  readonly embedding: number[];
}
const done = new Map<string, Row>();
const key = (path: string, v: LandmarkSource): string => `${v}\t${path}`;
if (existsSync(out)) {
  for (const line of (await readFile(out, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as Row;
      done.set(key(r.path, r.variant), r);
    } catch {
      // A line cut by a kill: the image is embedded again.
    }
  }
}

if (!args['report-only']) {
  const pipelines = new Map<LandmarkSource, FacePipeline>();
  for (const v of variants) {
    pipelines.set(
      v,
      await createFacePipeline({
        landmarks: v,
        threads: args.threads ? Number(args.threads) : undefined,
        detector: args.detector ? parseDetectorSpec(args.detector) : undefined,
        recognizer: args.recognizer ? parseRecognizerSpec(args.recognizer) : undefined,
      }),
    );
  }
  let made = 0;
  const t0 = performance.now();
  for (let i = 0; i < paths.length; i++) {
    for (const v of variants) {
      if (done.has(key(paths[i], v))) continue;
      const e = await pipelines.get(v)!.embed(join(args.lfw, 'lfw-deepfunneled', paths[i]));
      const t = e.times;
      const row: Row = {
        path: paths[i],
        variant: v,
        ms: t.detectMs + t.alignMs + t.embedMs,
        embedding: Array.from(e.embedding, (x) => Math.round(x * 1e6) / 1e6),
      };
      done.set(key(row.path, v), row);
      await appendFile(out, JSON.stringify(row) + '\n');
      made++;
    }
    if (i % 100 === 99) {
      const s = (performance.now() - t0) / 1000;
      console.error(`${i + 1}/${paths.length} images, ${made} embeddings in ${s.toFixed(0)} s`);
    }
  }
  for (const p of pipelines.values()) await p.dispose();
}

// The folds whose every image has every variant's embedding.
const complete = new Set<number>();
for (let f = 0; f < maxFolds; f++) {
  const pairs = list.pairs.map((p, i) => ({ p, i })).filter(({ p }) => p.fold === f);
  const ok =
    pairs.length > 0 &&
    pairs.every(({ i }) =>
      variants.every((v) => done.has(key(paths[indexA[i]], v)) && done.has(key(paths[indexB[i]], v))),
    );
  if (ok) complete.add(f);
}
console.log(`pairs.txt folds complete for every variant: ${complete.size} (${[...complete].join(', ')})`);
if (complete.size < 2) throw new Error('fewer than 2 complete folds: nothing to report yet');
const sel = list.pairs.map((p, i) => ({ p, i })).filter(({ p }) => complete.has(p.fold));
for (const v of variants) {
  const scores = Float32Array.from(sel, ({ i }) => {
    const a = done.get(key(paths[indexA[i]], v))!.embedding;
    const b = done.get(key(paths[indexB[i]], v))!.embedding;
    return a.reduce((s, x, j) => s + x * b[j], 0);
  });
  const same = Uint8Array.from(sel, ({ p }) => (p.same ? 1 : 0));
  const folds = Int32Array.from(sel, ({ p }) => p.fold);
  const { summary } = verifyPairs(scores, same, folds);
  const kf = summary.kfold!;
  const rows = [...done.values()].filter((r) => r.variant === v);
  const ms = rows.map((r) => r.ms).sort((a, b) => a - b);
  console.log(
    `${v.padEnd(15)} ${sel.length} pairs, ${kf.k} folds: ${(100 * kf.accuracyMean).toFixed(2)}% +- ${(100 * kf.accuracyStd).toFixed(2)}` +
      `  AUC ${summary.auc.toFixed(5)}  threshold mean ${kf.thresholdMean?.toFixed(4)}` +
      `  detect+align+embed median ${ms[ms.length >> 1].toFixed(0)} ms (${rows.length} images, machine loaded)`,
  );
  console.log(`  per fold: ${kf.folds.map((f) => (100 * f.testAccuracy).toFixed(2)).join(' ')}`);
}
