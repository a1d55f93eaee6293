/**
 * LFW verification through the whole face pipeline (detect, align, embed) with the standard 10-fold protocol
 * of src/eval. A measurement run once by hand, not a test:
 *
 *   npx tsx scripts/lfw-eval.ts [--recognizer onnx:/work/shared/data/models/mobilefacenet/mobilefacenet_photo_analyze.onnx]
 *
 * Without --recognizer / --detector it measures the default pipeline (blazeface:back + faceapi:resnet34).
 * Options: --detector SPEC, --det-size PX, --landmarks detector|mesh|mesh-attention (alignment points), --select largest|central|score, --no-flip, --threads N,
 * --lfw DIR (default ../shared/data/lfw), --batch-size N, --timing-sample N (images timed one by one,
 * default 100), --save FILE (embeddings, .jsonl or .bin), --report FILE (JSON summary),
 * --save-quality FILE (JSON lines, one per image in --save's order: path, face quality or null; the first line
 * names the recogniser and its calibrated threshold; read by scripts/lfw-quality.ts).
 */
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type EmbeddingMeta, writeEmbeddings } from '../src/eval/embeddings-io.js';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { verifyPairs } from '../src/eval/verification.js';
import {
  createFacePipeline,
  type FaceSelection,
  parseDetectorSpec,
  parseLandmarkSource,
  parseRecognizerSpec,
} from '../src/face/index.js';
import { writeFileAtomic } from '../src/util/fs.js';
import { progress } from '../src/util/progress.js';

const { values: args } = parseArgs({
  options: {
    recognizer: { type: 'string' },
    detector: { type: 'string' },
    landmarks: { type: 'string' },
    'det-size': { type: 'string' },
    select: { type: 'string', default: 'largest' },
    'no-flip': { type: 'boolean', default: false },
    threads: { type: 'string' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    'batch-size': { type: 'string', default: '16' },
    'timing-sample': { type: 'string', default: '100' },
    save: { type: 'string' },
    report: { type: 'string' },
    'save-quality': { type: 'string' },
  },
});

const select = args.select as FaceSelection;
if (!['largest', 'central', 'score'].includes(select)) throw new Error(`bad --select ${select}`);

const imagesDir = join(args.lfw, 'lfw-deepfunneled');
const pairsFile = join(args.lfw, 'pairs.txt');
const list = parsePairs(await readFile(pairsFile, 'utf8'), pairsFile);
const { paths, indexA, indexB } = pairImages(list);

const pipeline = await createFacePipeline({
  detector: args.detector ? parseDetectorSpec(args.detector) : undefined,
  recognizer: args.recognizer ? parseRecognizerSpec(args.recognizer) : undefined,
  landmarks: args.landmarks ? parseLandmarkSource(args.landmarks) : undefined,
  threads: args.threads ? Number(args.threads) : undefined,
  select,
  detection: { inputSize: args['det-size'] ? Number(args['det-size']) : undefined },
  // Unless --no-flip, the recogniser's own default applies (src/face/models.ts).
  recognition: args['no-flip'] ? { flip: false } : {},
});
const rec = pipeline.recognizer!;
console.error(
  `detector ${pipeline.detector.spec}, landmarks ${args.landmarks ?? 'default'}\nrecognizer ${rec.spec} (${rec.dim}-d)`,
);
console.error(
  `${list.pairs.length} pairs, ${paths.length} distinct images; select ${select}, flip ${rec.flip}`,
);

const bar = progress('embed', paths.length);
const t0 = performance.now();
const results = await pipeline.embedMany(
  paths.map((p) => join(imagesDir, p)),
  { batchSize: Number(args['batch-size']), onProgress: (d) => bar.update(d) },
);
const wallMs = performance.now() - t0;
bar.stop();

const dim = rec.dim;
const vectors = new Float32Array(paths.length * dim);
const failed: string[] = [];
const fallbacks: string[] = [];
let multiFace = 0;
for (const r of results) {
  if (!r.ok) {
    failed.push(`${paths[r.index]}: ${r.error.message}`);
    continue;
  }
  vectors.set(r.embedding, r.index * dim);
  if (r.fallback) fallbacks.push(paths[r.index]);
  if (r.facesFound > 1) multiFace++;
}

// Cosine of unit vectors; a failed image's zero row scores 0 against anything, which counts as an error
// at any positive threshold, as it should.
const scores = new Float32Array(list.pairs.length);
for (let i = 0; i < scores.length; i++) {
  let s = 0;
  for (let j = 0; j < dim; j++) s += vectors[indexA[i] * dim + j] * vectors[indexB[i] * dim + j];
  scores[i] = s;
}
const same = Uint8Array.from(list.pairs, (p) => (p.same ? 1 : 0));
const folds = Int32Array.from(list.pairs, (p) => p.fold);
const { summary } = verifyPairs(scores, same, list.folds ? folds : null);
const kf = summary.kfold!;

// Per-stage time, one image at a time on an idle pipeline (embedMany overlaps stages, so its split is not clean).
const sample = Math.min(paths.length, Number(args['timing-sample']));
const stages = { decodeMs: 0, detectMs: 0, alignMs: 0, embedMs: 0 };
for (let i = 0; i < sample; i++) {
  const e = await pipeline.embed(join(imagesDir, paths[Math.floor((i * paths.length) / sample)]));
  for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] += e.times[k] / sample;
}
await pipeline.dispose();

const pct = (v: number): string => (100 * v).toFixed(2);
console.log(
  `LFW 10-fold accuracy: ${pct(kf.accuracyMean)}% +- ${pct(kf.accuracyStd)}  (threshold mean ${kf.thresholdMean?.toFixed(4)})`,
);
console.log(`AUC ${summary.auc.toFixed(5)}, EER ${pct(summary.eer.eer)}%`);
console.log(
  `cosine: genuine mean ${summary.scores.genuine.mean.toFixed(3)}, impostor mean ${summary.scores.impostor.mean.toFixed(3)}`,
);
console.log(
  `images: ${paths.length}; no face detected (whole image embedded): ${fallbacks.length}; ` +
    `several faces (the ${select} one used): ${multiFace}; failed to decode/embed: ${failed.length}`,
);
for (const f of fallbacks) console.log(`  fallback: ${f}`);
for (const f of failed) console.log(`  failed: ${f}`);
console.log(
  `throughput (embedMany, batched): ${(wallMs / paths.length).toFixed(1)} ms per image, ${(wallMs / 1000).toFixed(0)} s total`,
);
console.log(
  `one image at a time (${sample} images): decode ${stages.decodeMs.toFixed(1)} ms, detect ${stages.detectMs.toFixed(1)} ms, ` +
    `align ${stages.alignMs.toFixed(1)} ms, embed ${stages.embedMs.toFixed(1)} ms (flip ${rec.flip}); ` +
    `detect+align+embed ${(stages.detectMs + stages.alignMs + stages.embedMs).toFixed(1)} ms per face`,
);

if (args.save) {
  const meta: EmbeddingMeta[] = paths.map((p) => ({ path: p, label: p.split('/')[0] }));
  await writeEmbeddings(args.save, { dim, vectors, meta });
  console.error(`wrote ${args.save}`);
}
if (args['save-quality']) {
  const quality: (object | null)[] = new Array(paths.length).fill(null);
  for (const r of results) if (r.ok && r.face) quality[r.index] = r.face.quality;
  const head = { recognizer: rec.spec, detector: pipeline.detector.spec, threshold: rec.threshold ?? null };
  const lines = [head, ...paths.map((path, i) => ({ path, quality: quality[i] }))];
  await writeFileAtomic(args['save-quality'], lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  console.error(`wrote ${args['save-quality']}`);
}
if (args.report) {
  const report = {
    detector: pipeline.detector.spec,
    landmarks: args.landmarks ?? 'default',
    recognizer: rec.spec,
    select,
    flip: rec.flip,
    images: paths.length,
    fallbacks,
    failed,
    multiFace,
    summary,
    msPerImageBatched: wallMs / paths.length,
    stagesMs: stages,
  };
  await writeFileAtomic(args.report, JSON.stringify(report, null, 2) + '\n');
  console.error(`wrote ${args.report}`);
}
