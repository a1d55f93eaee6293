/**
 * `arcface eval`: verification on an LFW-format pairs file (embedding its images with the face
 * pipeline, or reading their embeddings from a file), or all-pairs verification and identification
 * on a labelled embeddings file. Writes report.json and plots (SVG and PNG) into --out.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { integer, landmarkSource, numberIn, threadCount } from '../parse.js';
import { stageBars } from '../stage-bars.js';
import {
  DEFAULT_RECOGNIZER,
  createFacePipeline,
  parseDetectorSpec,
  parseRecognizerSpec,
} from '../../face/index.js';
import { readEmbeddings, writeEmbeddings } from '../../eval/embeddings-io.js';
import type { IdentificationSummary } from '../../eval/identification.js';
import {
  type BatchEmbedder,
  type EmbeddedImages,
  embedImages,
  embeddingsForPaths,
} from '../../eval/pair-embeddings.js';
import { checkPairImages, pairImages, parsePairs } from '../../eval/pairs.js';
import { type EvalReport, makePlots, writeReport } from '../../eval/report.js';
import { runLabelled, runPairs } from '../../eval/run.js';
import type { VerificationOutcome } from '../../eval/verification.js';
import { checkOutputPath } from '../../util/fs.js';
import { DEFAULT_LANDMARKS, type LandmarkSource } from '../../face/landmarks-mesh.js';

interface EvalOptions {
  pairs?: string;
  images?: string;
  model?: string;
  recognizer?: string;
  detector?: string;
  landmarks?: LandmarkSource;
  /** Undefined unless --flip or --no-flip is given: the zoo decides per model. */
  flip?: boolean;
  embeddings?: string;
  labels?: string;
  saveEmbeddings?: string;
  folds: number;
  skipFailed: boolean;
  allPairs: boolean;
  identification: boolean;
  enrol: number;
  holdout: number;
  seed: number;
  maxRank: number;
  out?: string;
  threads?: number;
  quiet: boolean;
}

const int = integer;
const fraction = numberIn(0, 1, '[)');

/** Register `arcface eval` on the program. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'evaluate embeddings: k-fold verification, ROC/AUC/EER and TAR@FAR on a pairs file; ' +
        'all-pairs verification and rank-k/CMC/DIR@FPIR identification on a labelled set',
    )
    .option(
      '--pairs <file>',
      "LFW-format pairs file ('10 300' header; 'Name i j' and 'NameA i NameB j' lines)",
    )
    .option('--images <dir>', 'image folder the pairs file refers to (Name/Name_0001.jpg)')
    .option(
      '--model <spec>',
      'recogniser for --images: faceapi:resnet34 (default), human:NAME, or onnx:PATH (e.g. w600k_r50.onnx)',
    )
    .option('--recognizer <spec>', 'same as --model (the name the face commands use)')
    .option(
      '--detector <spec>',
      'face detector for --images (blazeface:back (default), blazeface:front, scrfd:PATH or yunet:PATH)',
    )
    .option(
      '--landmarks <source>',
      'with --images: ' +
        'five alignment points from: detector (its own), mesh (MediaPipe Face Mesh on the face) or mesh-attention (default: ' +
        DEFAULT_LANDMARKS +
        ')',
      landmarkSource,
    )
    .option('--flip', 'with --images: embed each face plus its mirror image (default: per model)')
    .option('--no-flip', 'with --images: embed each face only')
    .option(
      '--embeddings <file>',
      'embeddings (.jsonl or AFEMB1 binary): keyed by image path with --pairs, else a labelled set',
    )
    .option(
      '--labels <file>',
      'one identity label per line, in embeddings order (when the file carries none)',
    )
    .option(
      '--save-embeddings <file>',
      'with --images: write the computed embeddings (.jsonl, or .bin for AFEMB1)',
    )
    .addOption(
      new Option('--folds <k>', 'folds when the pairs file defines none').argParser(int(2)).default(10),
    )
    .option('--skip-failed', 'drop pairs whose images could not be embedded instead of failing', false)
    .option('--no-all-pairs', 'labelled set: skip all-pairs verification')
    .option('--no-identification', 'labelled set: skip identification')
    .addOption(
      new Option('--enrol <n>', 'embeddings per identity averaged into its gallery template')
        .argParser(int(1))
        .default(1),
    )
    .addOption(
      new Option('--holdout <fraction>', 'share of identities kept out of the gallery as open-set probes')
        .argParser(fraction)
        .default(0),
    )
    .addOption(new Option('--seed <n>', 'seed for the holdout choice').argParser(int(0)).default(0))
    .addOption(new Option('--max-rank <n>', 'length of the CMC curve').argParser(int(1)).default(20))
    .option('--out <dir>', 'report folder (default ./reports/eval-<timestamp>)')
    .addOption(
      new Option('--threads <n>', 'ONNX Runtime threads (default: all cores)').argParser(threadCount),
    )
    .option('--quiet', 'no progress bars', false)
    .action(async (opts: EvalOptions) => {
      if (opts.model && opts.recognizer && opts.model !== opts.recognizer) {
        throw new Error('--model and --recognizer name the same thing: give one');
      }
      await runEval({ ...opts, model: opts.model ?? opts.recognizer });
    });
}

/** Embed through face/: detect, align to the recogniser's template, embed (flip as the zoo or --flip says). */
async function faceEmbedder(
  opts: EvalOptions,
  notes: string[],
): Promise<{ embed: BatchEmbedder; dispose: () => Promise<void> }> {
  // Damaged images that still decode go into the report's notes: printing would tear the progress bar.
  const damaged: string[] = [];
  const pipeline = await createFacePipeline({
    ...(opts.model ? { recognizer: parseRecognizerSpec(opts.model) } : {}),
    ...(opts.detector ? { detector: parseDetectorSpec(opts.detector) } : {}),
    landmarks: opts.landmarks,
    threads: opts.threads,
    recognition: { flip: opts.flip },
    decode: { onWarning: (m) => damaged.push(m) },
  });
  notes.push(
    `embedded with the face pipeline: detector ${pipeline.detector.spec}, recogniser ${pipeline.recognizer?.spec}; ` +
      `each face aligned to ${pipeline.recognizer?.template ? "the recogniser's template" : 'the ArcFace template'}, ` +
      (pipeline.recognizer?.flip
        ? 'embedding = L2-normalised sum of the face and its mirror image'
        : 'embedding of the face alone (no mirror image)'),
  );
  const embed: BatchEmbedder = async (paths, onProgress) => {
    const results = await pipeline.embedMany(paths, { onProgress: (done) => onProgress(done) });
    const fallbacks = results.filter((r) => r.ok && r.fallback).length;
    notes.push(
      fallbacks
        ? `${fallbacks} image(s) had no detected face and were embedded whole (centre crop)`
        : `a face was detected in every image (${results.length})`,
    );
    // Several faces is the other way a pair can go wrong: say how often the pipeline had to choose.
    const several = results.filter((r) => r.ok && r.facesFound > 1).length;
    if (several) notes.push(`${several} image(s) had several faces; the largest was embedded`);
    if (damaged.length) {
      notes.push(
        `${damaged.length} decoder warning(s): damaged image data was decoded anyway (${damaged.slice(0, 3).join('; ')})`,
      );
    }
    return results.map((r) => (r.ok ? r.embedding : r.error));
  };
  return { embed, dispose: () => pipeline.dispose() };
}

async function readLabels(file: string, count: number): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length !== count) throw new Error(`${file}: ${lines.length} labels for ${count} embeddings`);
  lines.forEach((l, i) => {
    if (l.trim() === '') throw new Error(`${file}:${i + 1}: empty label`);
  });
  return lines.map((l) => l.trim());
}

const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
const num = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(4));

function printVerification(v: VerificationOutcome): void {
  const s = v.summary;
  console.log(`verification (${s.protocol}): ${s.genuinePairs} genuine, ${s.impostorPairs} impostor pairs`);
  if (s.kfold) {
    console.log(
      `  ${s.kfold.k}-fold accuracy ${pct(s.kfold.accuracyMean)} +- ${pct(s.kfold.accuracyStd)} (mean threshold ${num(s.kfold.thresholdMean)})`,
    );
  }
  console.log(`  AUC ${s.auc.toFixed(5)}   EER ${pct(s.eer.eer)} (threshold ${num(s.eer.threshold)})`);
  for (const t of s.tarAtFar) {
    const detail = t.reliable ? `${pct(t.tar)} (threshold ${num(t.threshold)})` : `n/a: ${t.note}`;
    console.log(`  TAR@FAR=${t.far.toExponential(0)}: ${detail}`);
  }
}

function printIdentification(s: IdentificationSummary): void {
  console.log(
    `identification: ${s.galleryIdentities} gallery identities, ${s.matedProbes} mated and ${s.nonMatedProbes} non-mated probes`,
  );
  console.log(`  rank-1 ${pct(s.rank1)}   rank-5 ${pct(s.rank5)}   rank-10 ${pct(s.rank10)}`);
  for (const d of s.dirAtFpir ?? []) {
    const detail = d.reliable ? `${pct(d.dir)} (threshold ${num(d.threshold)})` : `n/a: ${d.note}`;
    console.log(`  DIR@FPIR=${d.fpir.toExponential(0)}: ${detail}`);
  }
}

/** What either kind of run hands to the report. */
interface Outcome {
  readonly verification: VerificationOutcome | null;
  readonly identification: IdentificationSummary | null;
  readonly count: number;
  readonly dim: number;
  /** Legend label: the model or embeddings file name. */
  readonly label: string;
}

async function evalPairs(opts: EvalOptions & { pairs: string }, notes: string[]): Promise<Outcome> {
  const list = parsePairs(await readFile(opts.pairs, 'utf8'), opts.pairs);
  const images = pairImages(list);
  let embedded: EmbeddedImages;
  let label: string;
  if (opts.images) {
    await checkPairImages(list, opts.images);
    const { embed, dispose } = await faceEmbedder(opts, notes);
    const bars = stageBars(opts.quiet);
    try {
      embedded = await embedImages(opts.images, images.paths, embed, {
        onProgress: (done, total) => bars.onProgress('embedding', done, total),
      });
    } finally {
      bars.stop();
      await dispose();
    }
    label = basename(opts.model ?? DEFAULT_RECOGNIZER);
    if (opts.saveEmbeddings) await saveEmbeddings(opts.saveEmbeddings, images.paths, embedded);
  } else {
    embedded = embeddingsForPaths(await readEmbeddings(opts.embeddings!), images.paths);
    label = basename(opts.embeddings!);
  }
  const r = await runPairs(list, images, embedded, {
    skipFailed: opts.skipFailed,
    k: opts.folds,
    threads: opts.threads,
  });
  notes.push(...r.notes);
  return {
    verification: r.verification,
    identification: null,
    count: images.paths.length,
    dim: embedded.dim,
    label,
  };
}

/** Keep what was embedded, keyed by relative path (label = the identity folder), for reruns without the model. */
async function saveEmbeddings(
  file: string,
  paths: readonly string[],
  embedded: EmbeddedImages,
): Promise<void> {
  const rows = paths.map((path, i) => ({ path, i })).filter(({ i }) => embedded.ok[i]);
  const d = embedded.dim;
  const vectors = new Float32Array(rows.length * d);
  rows.forEach(({ i }, r) => vectors.set(embedded.vectors.subarray(i * d, (i + 1) * d), r * d));
  await writeEmbeddings(file, {
    dim: d,
    vectors,
    meta: rows.map(({ path }) => ({ path, label: dirname(path) })),
  });
}

async function evalLabelled(opts: EvalOptions & { embeddings: string }, notes: string[]): Promise<Outcome> {
  const set = await readEmbeddings(opts.embeddings);
  const count = set.meta.length;
  let labels: string[];
  if (opts.labels) labels = await readLabels(opts.labels, count);
  else {
    const missing = set.meta.findIndex((m) => m.label === undefined);
    if (missing >= 0) throw new Error(`${opts.embeddings}: row ${missing} has no label; give --labels FILE`);
    labels = set.meta.map((m) => m.label!);
  }
  const bars = stageBars(opts.quiet);
  const r = await runLabelled(set.vectors, set.dim, labels, {
    allPairs: opts.allPairs,
    identification: opts.identification,
    enrol: opts.enrol,
    holdout: opts.holdout,
    seed: opts.seed,
    maxRank: opts.maxRank,
    threads: opts.threads,
    onProgress: bars.onProgress,
  }).finally(() => bars.stop());
  notes.push(...r.notes);
  return { ...r, count, dim: set.dim, label: basename(opts.embeddings) };
}

async function runEval(opts: EvalOptions): Promise<void> {
  const { pairs, embeddings } = opts;
  if (!pairs && !embeddings)
    throw new Error('give --pairs FILE (with --images DIR or --embeddings FILE) or --embeddings FILE');
  if (pairs && !!opts.images === !!embeddings) {
    throw new Error(
      '--pairs needs exactly one of --images DIR (embed the images) or --embeddings FILE (keyed by image path)',
    );
  }
  const notes: string[] = [];
  const out = resolve(opts.out ?? join('reports', `eval-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  // Before the work: a bad --out used to fail only after every image was embedded.
  await checkOutputPath(out, 'dir');
  if (opts.saveEmbeddings) await checkOutputPath(opts.saveEmbeddings, 'file');
  const { verification, identification, count, dim, label } = pairs
    ? await evalPairs({ ...opts, pairs }, notes)
    : await evalLabelled({ ...opts, embeddings: embeddings! }, notes);

  const plots = makePlots(verification, identification, label);
  const report: EvalReport = {
    tool: 'arcface eval',
    createdAt: new Date().toISOString(),
    inputs: {
      pairs: opts.pairs ?? null,
      images: opts.images ?? null,
      model: opts.model ?? (opts.images ? DEFAULT_RECOGNIZER : null),
      embeddings: opts.embeddings ?? null,
      labels: opts.labels ?? null,
      ...(opts.pairs ? { folds: opts.folds, skipFailed: opts.skipFailed } : {}),
      ...(!opts.pairs ? { enrol: opts.enrol, holdout: opts.holdout, seed: opts.seed } : {}),
    },
    scoring:
      'cosine similarity of L2-normalised embeddings; a pair is accepted when its score >= the threshold',
    embeddings: { count, dim },
    verification: verification?.summary ?? null,
    identification,
    plots: plots.flatMap((p) => [`${p.name}.svg`, `${p.name}.png`]),
    notes,
  };
  await writeReport(out, report, plots);
  if (verification) printVerification(verification);
  if (identification) printIdentification(identification);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`report: ${join(out, 'report.json')}`);
}
