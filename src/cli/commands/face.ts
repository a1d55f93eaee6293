/** `arcface detect`, `arcface embed` and `arcface verify`: the face pipeline from the command line. */
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { integer, landmarkSource, numberIn, threadCount } from '../parse.js';
import { type EmbeddingMeta, writeEmbeddings } from '../../eval/embeddings-io.js';
import { annotateFaces } from '../../face/annotate.js';
import { decodeImage } from '../../face/image.js';
import { type FaceQuality, assessFace } from '../../face/quality.js';
import { DEFAULT_LANDMARKS, type LandmarkSource } from '../../face/landmarks-mesh.js';
import {
  type ComparedFace,
  type FacePipeline,
  type FacePipelineOptions,
  type FaceSelection,
  NoFaceError,
  createFacePipeline,
} from '../../face/pipeline.js';
import { type DetectedFace } from '../../face/types.js';
import { parseDetectorSpec, parseRecognizerSpec } from '../../face/zoo.js';
import { checkOutputPath, writeFileAtomic } from '../../util/fs.js';
import { progress } from '../../util/progress.js';

const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
]);

/** What `embed` writes per row: a row embedded whole, because no face was found, carries `noFace: true`. */
type EmbeddedRecord = EmbeddingMeta & { readonly noFace?: true; readonly quality?: object };

interface ModelFlags {
  detector?: string;
  recognizer?: string;
  landmarks?: LandmarkSource;
  threads?: number;
  select?: FaceSelection;
  /** Undefined when neither --flip nor --no-flip is given: the zoo decides per model. */
  flip?: boolean;
  scoreThreshold?: number;
  detSize?: number;
  /** False when --no-tiles is given. */
  tiles?: boolean;
  minFace?: number;
}

const positiveInt = integer(1);
const unitNumber = numberIn(-1, 1, '[]');
/** Detection scores are probabilities. */
const probability = numberIn(0, 1, '[]');
/** What `detect --out` can write, by extension: sharp encodes these, and the file says what it holds. */
const ANNOTATED_FORMATS: Readonly<Record<string, 'png' | 'jpeg' | 'webp'>> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.webp': 'webp',
};

/** The encoding `detect --out` writes, from its extension; refused before any work when unknown. */
function annotatedFormat(out: string): 'png' | 'jpeg' | 'webp' {
  const format = ANNOTATED_FORMATS[extname(out).toLowerCase()];
  if (!format) {
    throw new Error(`--out ${out}: the annotated image is written as .png, .jpg, .jpeg or .webp; name it so`);
  }
  return format;
}

function selection(v: string): FaceSelection {
  if (v === 'largest' || v === 'central' || v === 'score') return v;
  throw new InvalidArgumentError("expected 'largest', 'central' or 'score'");
}

function withModelOptions(cmd: Command, recognizer: boolean): Command {
  cmd
    .option(
      '--detector <spec>',
      'face detector: blazeface:back|front (npm-shipped), scrfd:PATH or yunet:PATH (default: blazeface:back)',
    )
    .option('--det-size <px>', 'detector input side for dynamic-size detectors', positiveInt)
    .option('--score-threshold <s>', 'minimum detection score, in [0, 1]', probability)
    .option(
      '--min-face <px>',
      'smallest face to find in large images, in image pixels: they are also searched in tiles (default: 40)',
      numberIn(0, Infinity, '()'),
    )
    .option('--no-tiles', 'detect on the whole image only (faster on large images; misses small faces)')
    .option('--threads <n>', 'ONNX Runtime threads per model (default: all cores)', threadCount);
  if (recognizer) {
    cmd
      .option(
        '--recognizer <spec>',
        'recogniser: faceapi:resnet34, human:faceres|mobileface|mobilefacenet (npm-shipped) or onnx:PATH ' +
          '(an ArcFace-style ONNX model) (default: faceapi:resnet34)',
      )
      .option('--select <how>', 'face to embed when there are several: largest, central or score', selection)
      .option(
        '--landmarks <source>',
        'five alignment points from: detector (its own), mesh (MediaPipe Face Mesh on the face) or mesh-attention (default: ' +
          DEFAULT_LANDMARKS +
          ')',
        landmarkSource,
      )
      // Both forms are declared so that commander leaves `flip` undefined when neither is given, and the
      // recogniser's own default (measured per model, src/face/models.ts) applies.
      .option('--flip', 'embed the face plus its mirror image (default: on where it helps the model)')
      .option('--no-flip', 'embed the face only, not the face plus its mirror image');
  }
  return cmd;
}

function pipelineOptions(flags: ModelFlags, needRecognizer: boolean): FacePipelineOptions {
  return {
    detector: flags.detector ? parseDetectorSpec(flags.detector) : undefined,
    recognizer: !needRecognizer
      ? false
      : flags.recognizer
        ? parseRecognizerSpec(flags.recognizer)
        : undefined,
    threads: flags.threads,
    select: flags.select,
    landmarks: flags.landmarks,
    detection: {
      scoreThreshold: flags.scoreThreshold,
      inputSize: flags.detSize,
      tiles: flags.tiles === false ? false : undefined,
      minFaceSize: flags.minFace,
    },
    recognition: { flip: flags.flip },
    // Damage the decoder recovered from (a JPEG with a corrupt middle) still gives pixels: say so.
    decode: { onWarning: (m) => console.error(`warning: ${m}`) },
  };
}

function round(v: number, digits = 2): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}

/** A face's quality for JSON output: sizes in pixels and angles in degrees to 0.1, scores to 0.001. */
function qualityJson(q: FaceQuality): object {
  return {
    score: round(q.score, 3),
    size: { interOcular: round(q.size.interOcular, 1), boxShortSide: round(q.size.boxShortSide, 1) },
    sharpness: round(q.sharpness, 4),
    yaw: round(q.yaw, 1),
    pitch: round(q.pitch, 1),
    roll: round(q.roll, 1),
    detectorScore: round(q.detectorScore, 4),
    factors: Object.fromEntries(Object.entries(q.factors).map(([k, v]) => [k, round(v, 3)])),
  };
}

function faceJson(f: DetectedFace & { readonly quality?: FaceQuality }): object {
  return {
    box: [round(f.box.x1), round(f.box.y1), round(f.box.x2), round(f.box.y2)],
    score: round(f.score, 4),
    landmarks: f.landmarks.map(([x, y]) => [round(x), round(y)]),
    ...(f.quality ? { quality: qualityJson(f.quality) } : {}),
  };
}

/** Which face of an image `verify` compared, for its JSON output. */
function comparedJson(c: ComparedFace | null): object | null {
  if (!c) return null;
  return {
    ...(c.face ? faceJson(c.face) : { box: null }),
    facesFound: c.facesFound,
    // With one face (or none) there was no choice to make.
    chosenBy: c.face && c.facesFound > 1 ? c.selectedBy : null,
    padded: c.padded,
    wholeImage: c.fallback,
  };
}

const CHOSEN_BY: Readonly<Record<FaceSelection, string>> = {
  largest: 'the largest',
  score: 'the highest-scoring',
  central: 'the most central large one',
};

/** One line saying which face of `path` `verify` compared. */
function comparedText(path: string, c: ComparedFace): string {
  if (!c.face) return `${path}: no face found; the whole image was compared (--allow-no-face)`;
  const b = c.face.box;
  const box = [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v)).join(', ');
  const which = c.facesFound > 1 ? `${CHOSEN_BY[c.selectedBy]} of ${c.facesFound} faces` : 'the only face';
  const padded = c.padded ? ', found after padding the image (a tight crop)' : '';
  return `${path}: ${which}, box [${box}], score ${c.face.score.toFixed(2)}, quality ${c.face.quality.score.toFixed(2)}${padded}`;
}

/** Image files under `dir`, recursively, sorted for a stable output order. */
async function listImages(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listImages(path)));
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) found.push(path);
  }
  return found.sort();
}

async function withPipeline<T>(opts: FacePipelineOptions, work: (p: FacePipeline) => Promise<T>): Promise<T> {
  const pipeline = await createFacePipeline(opts);
  try {
    return await work(pipeline);
  } finally {
    await pipeline.dispose();
  }
}

/** Register the face sub-commands on the `arcface` program. */
export function registerFaceCommands(program: Command): void {
  withModelOptions(
    program
      .command('detect')
      .description('detect faces; print boxes, scores and 5 landmarks (original image pixels) as JSON')
      .argument('<image>', 'image file')
      .option('--out <file>', 'also write the image with boxes and landmarks drawn (.png, .jpg or .webp)'),
    false,
  ).action(async (image: string, flags: ModelFlags & { out?: string }) => {
    const format = flags.out === undefined ? undefined : annotatedFormat(flags.out);
    if (flags.out !== undefined) await checkOutputPath(flags.out, 'file');
    const opts = pipelineOptions(flags, false);
    await withPipeline(opts, async (p) => {
      const decoded = await decodeImage(image, opts.decode);
      const faces = (await p.detector.detect(decoded)).map((f) => ({
        ...f,
        quality: assessFace(decoded, f),
      }));
      // Valid JSON with one face per line: readable in a terminal, trivial for `jq`.
      const head = { path: image, width: decoded.width, height: decoded.height };
      const fields = Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
      const body = faces.map((f) => `    ${JSON.stringify(faceJson(f))}`).join(',\n');
      console.log(['{', ...fields, `  "faces": [${faces.length ? `\n${body}\n  ` : ''}]`, '}'].join('\n'));
      if (flags.out) {
        await writeFileAtomic(flags.out, await annotateFaces(decoded, faces, format));
        console.error(`wrote ${flags.out}`);
      }
    });
  });

  withModelOptions(
    program
      .command('embed')
      .description(
        'embed the largest face of each image; writes JSON lines {"path","label","embedding"} or, for a .bin ' +
          'file, AFEMB1 binary float32. Exit 0 all embedded, 1 some images failed (the rest are written), 2 error',
      )
      .argument('<input>', 'an image, or a folder searched recursively (label = first sub-folder)')
      .requiredOption('--out <file>', 'output file: .jsonl (JSON lines) or .bin (binary)')
      .option('--batch-size <n>', 'images per recogniser batch', positiveInt, 16)
      .option('--quiet', 'no progress bar'),
    true,
  ).action(async (input: string, flags: ModelFlags & { out: string; batchSize: number; quiet?: boolean }) => {
    await checkOutputPath(flags.out, 'file');
    const isDir = (await stat(input).catch(() => undefined))?.isDirectory() ?? false;
    const paths = isDir ? await listImages(input) : [input];
    if (paths.length === 0) throw new Error(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) under ${input}`);
    await withPipeline(pipelineOptions(flags, true), async (p) => {
      const bar = progress('embed', paths.length, { quiet: flags.quiet });
      const results = await p.embedMany(paths, {
        batchSize: flags.batchSize,
        onProgress: (d) => bar.update(d),
      });
      bar.stop();
      const ok = results.flatMap((r) => (r.ok ? [r] : []));
      const dim = p.recognizer?.dim ?? 0;
      const vectors = new Float32Array(ok.length * dim);
      const meta: EmbeddingMeta[] = ok.map((r, i) => {
        vectors.set(r.embedding, i * dim);
        const path = isDir ? relative(input, paths[r.index]).split(sep).join('/') : paths[r.index];
        const parts = path.split('/');
        const record: EmbeddedRecord = isDir && parts.length > 1 ? { path, label: parts[0] } : { path };
        // A row with no face in it must be told apart from a face by whoever reads the file.
        if (r.fallback || !r.face) return { ...record, noFace: true };
        return { ...record, quality: qualityJson(r.face.quality) };
      });
      for (const r of results) {
        if (!r.ok) console.error(`skipped ${paths[r.index]}: ${r.error.message}`);
        else if (r.fallback) console.error(`no face found in ${paths[r.index]}: embedded the whole image`);
      }
      if (ok.length === 0) throw new Error('no image could be embedded');
      await writeEmbeddings(flags.out, { dim, vectors, meta });
      const fallbacks = ok.filter((r) => r.fallback).length;
      console.error(
        `wrote ${ok.length} embeddings (${dim}-d) to ${flags.out}; ${fallbacks} without a detected face, ` +
          `${results.length - ok.length} failed`,
      );
      if (ok.length < results.length) process.exitCode = 1;
    });
  });

  withModelOptions(
    program
      .command('verify')
      .description(
        'same person or not: prints the cosine similarity and the decision. Exit 0 same, 1 different, 2 error',
      )
      .argument('<a>', 'first image')
      .argument('<b>', 'second image')
      .option(
        '--allow-no-face',
        'compare the whole image when no face is found in it (default: exit 2, no decision on a face that is not there)',
      )
      .option(
        '--threshold <t>',
        'cosine threshold (default: the one calibrated on LFW for the recogniser; see docs/MODELS.md)',
        unitNumber,
      )
      .option(
        '--min-quality <q>',
        'lowest face quality score accepted on either side, in [0, 1]; below it: exit 2 naming the measure that failed',
        probability,
      )
      .option('--json', 'print the result as JSON'),
    true,
  )
    // Exit 1 means 'different': usage errors must not be mistaken for it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(
      async (
        a: string,
        b: string,
        flags: ModelFlags & {
          threshold?: number;
          json?: boolean;
          allowNoFace?: boolean;
          minQuality?: number;
        },
      ) => {
        const opts: FacePipelineOptions = {
          ...pipelineOptions(flags, true),
          noFace: flags.allowNoFace ? 'whole-image' : undefined,
          minQuality: flags.minQuality,
        };
        await withPipeline(opts, async (p) => {
          const v = await p.verify(a, b, flags.threshold).catch((err: unknown) => {
            if (err instanceof NoFaceError) {
              throw new NoFaceError(
                err.image,
                `${err.message} (also on the image padded by a margin); no decision. ` +
                  '--allow-no-face compares whole images, which look alike whether or not they show the same person',
              );
            }
            throw err;
          });
          const [fa, fb] = v.faces;
          const fallback = [fa?.fallback ? a : undefined, fb?.fallback ? b : undefined].filter(
            (x) => x !== undefined,
          );
          if (flags.json) {
            console.log(
              JSON.stringify({
                a,
                b,
                similarity: v.similarity,
                threshold: v.threshold,
                same: v.same,
                faces: { a: comparedJson(fa), b: comparedJson(fb) },
                noFaceFound: fallback,
              }),
            );
          } else {
            console.log(
              `similarity ${v.similarity.toFixed(4)}  threshold ${v.threshold.toFixed(4)}  ${v.same ? 'same' : 'different'}`,
            );
            if (fa) console.log(comparedText(a, fa));
            if (fb) console.log(comparedText(b, fb));
            // Say what the threshold means, so that users need not guess what a "same" costs.
            const c = p.recognizer?.calibration;
            if (flags.threshold === undefined && c) {
              console.error(
                `note: threshold calibrated on LFW (${c.measured}): FAR ${(100 * c.far).toFixed(2)}%, ` +
                  `TAR ${(100 * c.tar).toFixed(2)}%`,
              );
            }
          }
          process.exitCode = v.same ? 0 : 1;
        });
      },
    );
}
