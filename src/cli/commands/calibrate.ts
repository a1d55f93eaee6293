/**
 * `arcface calibrate`: give a user's ONNX recogniser a threshold. Embeds a pairs list's images through the
 * face pipeline (finding the input normalisation on a subset of the pairs first, unless given), picks the
 * threshold at a target FAR and the best-accuracy one (k-fold), and writes a model card (src/face/model-card.ts)
 * that `verify` and `identify` then use for that model without `--threshold`.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { integer, numberIn, threadCount } from '../parse.js';
import { stageBars } from '../stage-bars.js';
import { alignFace } from '../../face/align.js';
import { decodeImage } from '../../face/image.js';
import {
  MODEL_CARD_FORMAT,
  type ModelCard,
  type NormalizationChoice,
  cardPathFor,
  fileSha256,
  normalizationByName,
} from '../../face/model-card.js';
import { knownRecognizer } from '../../face/models.js';
import { scoreNormalizations } from '../../face/normalization-search.js';
import { createFacePipeline } from '../../face/pipeline.js';
import type { PixelNormalization } from '../../face/tensor-input.js';
import type { RgbImage } from '../../face/types.js';
import { DEFAULT_DETECTOR, loadRecognizer, parseDetectorSpec, parseRecognizerSpec } from '../../face/zoo.js';
import { embedImages } from '../../eval/pair-embeddings.js';
import { type PairsList, checkPairImages, pairImages, parsePairs } from '../../eval/pairs.js';
import { runPairs } from '../../eval/run.js';
import { rankScoreSets } from '../../eval/score-ranking.js';
import { checkOutputPath, writeFileAtomic } from '../../util/fs.js';

interface CalibrateFlags {
  pairs: string;
  images: string;
  recognizer: string;
  detector?: string;
  far: number;
  normalization?: string;
  searchPairs: number;
  flip?: boolean;
  out?: string;
  threads?: number;
  quiet: boolean;
}

async function toolVersion(): Promise<string> {
  // src/cli/commands and dist/cli/commands both sit three levels below the package root.
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

/** Every `step`-th pair, so that a pairs file ordered by fold and kind gives both kinds from every fold. */
function spreadSubset(list: PairsList, count: number): number[] {
  const n = list.pairs.length;
  if (count >= n) return list.pairs.map((_, i) => i);
  const step = n / count;
  return Array.from({ length: count }, (_, i) => Math.floor(i * step));
}

/** Detect and align the search pairs' faces once (ArcFace template, the model's crop side); faceless pairs are left out. */
async function searchCrops(
  flags: CalibrateFlags,
  list: PairsList,
  subset: readonly number[],
  side: number,
): Promise<{ crops: RgbImage[]; a: Int32Array; b: Int32Array; same: Uint8Array }> {
  const pipeline = await createFacePipeline({
    recognizer: false,
    ...(flags.detector ? { detector: parseDetectorSpec(flags.detector) } : {}),
    threads: flags.threads,
  });
  const images = pairImages(list);
  const cropOf = new Map<number, number>();
  const crops: RgbImage[] = [];
  try {
    for (const i of subset) {
      for (const r of [images.indexA[i], images.indexB[i]]) {
        if (cropOf.has(r)) continue;
        const image = await decodeImage(join(flags.images, images.paths[r])).catch(() => undefined);
        const face = image && (await pipeline.detect(image)).faces[0];
        if (!image || !face) {
          cropOf.set(r, -1);
          continue;
        }
        cropOf.set(r, crops.length);
        crops.push(alignFace(image, face.landmarks, side));
      }
    }
  } finally {
    await pipeline.dispose();
  }
  const kept = subset.filter((i) => cropOf.get(images.indexA[i])! >= 0 && cropOf.get(images.indexB[i])! >= 0);
  return {
    crops,
    a: Int32Array.from(kept, (i) => cropOf.get(images.indexA[i])!),
    b: Int32Array.from(kept, (i) => cropOf.get(images.indexB[i])!),
    same: Uint8Array.from(kept, (i) => (list.pairs[i].same ? 1 : 0)),
  };
}

/** Share of `scores` at or above `t`. */
const rateAt = (scores: Float32Array, t: number): number =>
  scores.reduce((n, s) => n + (s >= t ? 1 : 0), 0) / scores.length;

/**
 * The ROC's threshold is a pair's own score, so a pair sits exactly on it and float rounding elsewhere
 * (float64 cosine in `verify` against the float32 scores here) could flip it. Halfway down to the next lower
 * score accepts the same pairs with room to spare.
 */
function midpointBelow(t: number, genuine: Float32Array, impostor: Float32Array): number {
  let below = -Infinity;
  for (const set of [genuine, impostor]) for (const v of set) if (v < t && v > below) below = v;
  return below === -Infinity ? t : (t + below) / 2;
}

async function calibrate(flags: CalibrateFlags): Promise<void> {
  const spec = parseRecognizerSpec(flags.recognizer);
  if (!spec.startsWith('onnx:')) {
    throw new Error(
      `--recognizer ${spec}: calibrate is for users' ONNX files (onnx:PATH); npm-shipped models carry their thresholds`,
    );
  }
  const modelPath = spec.slice('onnx:'.length);
  const out = resolve(flags.out ?? cardPathFor(modelPath));
  await checkOutputPath(out, 'file');
  const sha256 = await fileSha256(modelPath);
  const list = parsePairs(await readFile(flags.pairs, 'utf8'), flags.pairs);
  await checkPairImages(list, flags.images);
  const flip = flags.flip ?? knownRecognizer(sha256)?.flip ?? true;
  const bars = stageBars(flags.quiet);

  let normalization: PixelNormalization;
  let chosen: NormalizationChoice;
  if (flags.normalization !== undefined) {
    normalization = normalizationByName(flags.normalization);
    chosen = { how: 'given' };
  } else {
    const subset = spreadSubset(list, flags.searchPairs);
    // The crop side comes from the model; any normalisation serves to read it.
    const probe = await loadRecognizer(spec, { threads: flags.threads, flip });
    const side = probe.inputSize.width;
    await probe.dispose();
    bars.onProgress('detecting (normalization search)', 0, 1);
    const s = await searchCrops(flags, list, subset, side);
    bars.onProgress('detecting (normalization search)', 1, 1);
    const sets = await scoreNormalizations(modelPath, s.crops, s.a, s.b, {
      flip,
      threads: flags.threads,
      onProgress: (d, t) => bars.onProgress('normalization search', d, t),
    });
    const byName = new Map(sets.map((c) => [c.name, c.normalization]));
    const scores = rankScoreSets(sets, s.same).map((r) => ({ ...r, normalization: byName.get(r.name)! }));
    normalization = scores[0].normalization;
    chosen = { how: 'searched', candidates: scores, pairs: s.a.length };
  }

  const pipeline = await createFacePipeline({
    recognizer: spec,
    ...(flags.detector ? { detector: parseDetectorSpec(flags.detector) } : {}),
    threads: flags.threads,
    recognition: { normalization, flip },
  });
  const images = pairImages(list);
  let wholeImages = 0;
  const recognizer = pipeline.recognizer!;
  const embedded = await embedImages(
    flags.images,
    images.paths,
    async (paths, onProgress) => {
      const results = await pipeline.embedMany(paths, { onProgress: (d) => onProgress(d) });
      wholeImages = results.filter((r) => r.ok && r.fallback).length;
      return results.map((r) => (r.ok ? r.embedding : r.error));
    },
    { onProgress: (d, t) => bars.onProgress('embedding', d, t) },
  ).finally(async () => {
    bars.stop();
    await pipeline.dispose();
  });

  const { verification, notes } = await runPairs(list, images, embedded, {
    skipFailed: true,
    threads: flags.threads,
    fars: [flags.far],
  });
  const s = verification.summary;
  const atFar = s.tarAtFar[0];
  if (!atFar.reliable || atFar.threshold === null) {
    throw new Error(
      `no threshold at FAR ${flags.far}: ${atFar.note ?? 'no threshold keeps the FAR that low'}; ` +
        'give a larger --far or more impostor pairs',
    );
  }
  const threshold = midpointBelow(atFar.threshold, verification.genuine, verification.impostor);
  const kf = s.kfold;
  const bestT = kf?.thresholdMean ?? null;
  const card: ModelCard = {
    format: MODEL_CARD_FORMAT,
    model: {
      file: basename(modelPath),
      sha256,
      dim: recognizer.dim,
      inputSize: recognizer.inputSize,
      template: `ArcFace 5-point template at ${recognizer.inputSize.width} px`,
    },
    normalization: { ...normalization, chosen },
    flip,
    threshold,
    targetFar: flags.far,
    atTargetFar: {
      threshold,
      far: rateAt(verification.impostor, threshold),
      tar: rateAt(verification.genuine, threshold),
    },
    bestAccuracy: {
      threshold: bestT ?? Number.NaN,
      far: bestT === null ? Number.NaN : rateAt(verification.impostor, bestT),
      tar: bestT === null ? Number.NaN : rateAt(verification.genuine, bestT),
      accuracy: kf?.accuracyMean ?? Number.NaN,
      accuracyStd: kf?.accuracyStd ?? Number.NaN,
      folds: kf?.folds.length ?? 0,
    },
    auc: s.auc,
    data: {
      pairs: flags.pairs,
      images: flags.images,
      genuinePairs: s.genuinePairs,
      impostorPairs: s.impostorPairs,
      detector: flags.detector ?? DEFAULT_DETECTOR,
      failedImages: embedded.failures.length,
      wholeImages,
    },
    createdAt: new Date().toISOString(),
    tool: { name: 'arcface calibrate', version: await toolVersion() },
  };
  await writeFileAtomic(out, `${JSON.stringify(card, null, 2)}\n`);

  const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
  const n = card.normalization;
  console.log(
    `model ${card.model.file} (sha256 ${sha256.slice(0, 12)}...), ${card.model.dim}-d, flip ${flip ? 'on' : 'off'}`,
  );
  console.log(
    `normalization (x - ${n.mean}) / ${n.std}, ${n.order.toUpperCase()} (${chosen.how}` +
      (chosen.candidates
        ? `; AUC on ${chosen.pairs} pairs, best first: ${chosen.candidates.map((c) => `${c.name} ${c.auc.toFixed(4)} (d' ${c.separation.toFixed(2)})`).join(', ')})`
        : ')'),
  );
  console.log(`pairs: ${s.genuinePairs} genuine, ${s.impostorPairs} impostor; AUC ${s.auc.toFixed(5)}`);
  console.log(
    `threshold at FAR ${flags.far}: ${threshold.toFixed(4)} (FAR ${pct(card.atTargetFar.far)}, TAR ${pct(card.atTargetFar.tar)})`,
  );
  if (kf && bestT !== null) {
    console.log(
      `best-accuracy threshold (mean of ${kf.folds.length} folds): ${bestT.toFixed(4)}, accuracy ${pct(kf.accuracyMean)} +- ${pct(kf.accuracyStd)} ` +
        `(FAR ${pct(card.bestAccuracy.far)}, TAR ${pct(card.bestAccuracy.tar)})`,
    );
  }
  for (const note of notes) console.log(`note: ${note}`);
  if (wholeImages) console.log(`note: ${wholeImages} image(s) had no detected face and were embedded whole`);
  console.log(`card: ${out}`);
}

/** Register `arcface calibrate` on the program. */
export function registerCalibrateCommand(program: Command): void {
  program
    .command('calibrate')
    .description(
      "calibrate a user's ONNX recogniser on a pairs list: threshold at a target FAR, best-accuracy threshold, " +
        'input normalisation; writes a model card that verify and identify then use',
    )
    .requiredOption('--pairs <file>', "LFW-format pairs file ('Name i j' and 'NameA i NameB j' lines)")
    .requiredOption('--images <dir>', 'image folder the pairs file refers to (Name/Name_0001.jpg)')
    .requiredOption('--recognizer <spec>', 'the model: onnx:PATH')
    .option(
      '--detector <spec>',
      'face detector: blazeface:back (default), blazeface:front, scrfd:PATH or yunet:PATH',
    )
    .addOption(
      new Option('--far <rate>', 'target false accept rate for the threshold')
        .argParser(numberIn(0, 1, '(]'))
        .default(1e-3),
    )
    .option(
      '--normalization <name>',
      'input normalisation: rgb-127.5, rgb-128, rgb-01, bgr-127.5, bgr-128, bgr-01 (default: searched on the pairs)',
    )
    .addOption(
      new Option('--search-pairs <n>', 'pairs used to search the normalisation')
        .argParser(integer(2))
        .default(300),
    )
    .option('--flip', 'embed each face plus its mirror image (default: on)')
    .option('--no-flip', 'embed each face only')
    .option('--out <file>', 'model card to write (default: <model>.card.json, where the loader finds it)')
    .addOption(
      new Option('--threads <n>', 'ONNX Runtime threads (default: all cores)').argParser(threadCount),
    )
    .option('--quiet', 'no progress bars', false)
    .action((flags: CalibrateFlags) => calibrate(flags));
}
