/**
 * The face pipeline: image -> detection -> alignment -> embedding, and comparison of embeddings. This is the
 * library's face API; the CLI and the evaluation scripts are thin layers over it.
 */
import { availableParallelism } from 'node:os';
import { checkThreshold, cosineSimilarity, decideSame } from '../util/vector.js';
import { alignFace } from './align.js';
import type { DetectorOptions } from './letterbox-detector.js';
import { type TilingOptions, checkTilingOptions, withTiles } from './detect-tiled.js';
import type { OnnxRecognizerOptions } from './embed-onnx.js';
import { type DecodeOptions, type ImageInput, decodeImage } from './image.js';
import { coverRgb, extendRgb, resizeRgb } from './image-ops.js';
import { DEFAULT_LANDMARKS, type LandmarkSource, loadMeshLandmarker } from './landmarks-mesh.js';
import {
  type FaceQuality,
  type QualityShortfall,
  checkMinQuality,
  faceQuality,
  qualityCrop,
  qualityShortfall,
} from './quality.js';
import type { DetectedFace, FaceDetector, FaceRecognizer, Landmarks5, Point, RgbImage } from './types.js';
import {
  type DetectorSpec,
  type RecognizerSpec,
  DEFAULT_DETECTOR,
  DEFAULT_RECOGNIZER,
  loadDetector,
  loadRecognizer,
} from './zoo.js';

/** Which face `embed` uses when an image holds several. */
export type FaceSelection = 'largest' | 'central' | 'score';

/**
 * What to do with an image in which no face is found, even on the image padded by a margin:
 * - `'whole-image'`: embed the whole image as the face (centre square) and mark it `fallback: true`;
 * - `'error'`: throw {@link NoFaceError}.
 */
export type NoFacePolicy = 'whole-image' | 'error';

export interface FacePipelineOptions {
  /** Detector spec (default {@link DEFAULT_DETECTOR}, npm-shipped BlazeFace). */
  readonly detector?: DetectorSpec;
  /**
   * Recogniser spec (default {@link DEFAULT_RECOGNIZER}, npm-shipped face-api ResNet-34); `false` loads
   * none, for a pipeline that only detects (`embed`, `verify` and `embedMany` then throw).
   */
  readonly recognizer?: RecognizerSpec | false;
  /**
   * Where the five alignment points come from (default {@link DEFAULT_LANDMARKS}): the detector's own, or a
   * face mesh run on the selected face before alignment (src/face/landmarks-mesh.ts). `detect` always returns
   * the detector's points.
   */
  readonly landmarks?: LandmarkSource;
  /** ONNX Runtime intra-op threads per session (default: all cores). */
  readonly threads?: number;
  /**
   * A detector and recogniser already loaded (the web page opens them from the .onnx files `arcface web`
   * wrote): `detector`, `recognizer` and `threads` are then unused. The pipeline disposes them with itself.
   */
  readonly models?: { readonly detector: FaceDetector; readonly recognizer?: FaceRecognizer };
  /**
   * Detector options, and tiling for small faces in large images: by default (`tiles: 'auto'`) an image over
   * about 960 px on its long side (for the 256 px BlazeFace) is also searched in tiles, so that faces down to
   * `minFaceSize` (default 40) image pixels are found; smaller images take the detector's own path, unchanged.
   * See src/face/detect-tiled.ts.
   */
  readonly detection?: Omit<DetectorOptions, 'threads'> & TilingOptions;
  readonly recognition?: Omit<OnnxRecognizerOptions, 'threads'>;
  readonly decode?: DecodeOptions;
  /**
   * Face to embed when there are several: 'largest' box (default), 'central' (InsightFace's rule: area minus
   * twice the squared distance from the image centre), or highest 'score'.
   */
  readonly select?: FaceSelection;
  /**
   * When no face is detected — first on the image, then on the image padded by a margin (a tight face crop):
   * - unset (default): `embed` and `embedMany` embed the whole image and mark it `fallback: true`, so that a
   *   batch keeps its rows; `verify` throws {@link NoFaceError}: a decision never rests on a face that is
   *   not there (two faceless images look alike: 0.947 for a solid colour against a landscape).
   * - `'whole-image'`: the explicit opt-in: `verify` also compares whole images (its result says which).
   * - `'error'`: `embed` throws {@link NoFaceError} too; `embedMany` gives an error entry.
   */
  readonly noFace?: NoFacePolicy;
  /**
   * Lowest quality score (src/face/quality.ts, in [0, 1]) `verify` accepts on either side: below it, it throws
   * {@link LowQualityError} naming the measure that failed. Default 0: no minimum. Results carry every face's
   * quality whatever this is.
   */
  readonly minQuality?: number;
  /**
   * @deprecated use {@link noFace}: `false` is `noFace: 'error'`, `true` is `noFace: 'whole-image'`.
   * Ignored when `noFace` is given.
   */
  readonly fallback?: boolean;
}

/** A detected face with its quality (size, sharpness, pose, detector score, combined score). */
export interface AssessedFace extends DetectedFace {
  readonly quality: FaceQuality;
}

/** Faces found in one image. */
export interface Detection {
  /** Image size after EXIF rotation, pixels; face coordinates refer to it. */
  readonly width: number;
  readonly height: number;
  /** By descending score. */
  readonly faces: AssessedFace[];
}

/** Milliseconds spent per stage on one image (the recogniser's share of a batch, in `embedMany`). */
export interface StageTimes {
  readonly decodeMs: number;
  readonly detectMs: number;
  readonly alignMs: number;
  readonly embedMs: number;
}

/** The embedding of one image's face. */
export interface FaceEmbedding {
  /** Unit-length vector (`recognizer.dim` floats). */
  readonly embedding: Float32Array;
  /** The face embedded, with its quality, or null when the whole image was used. */
  readonly face: AssessedFace | null;
  /** Faces the detector found. */
  readonly facesFound: number;
  /** True when no face was found and the whole image was embedded as the face. */
  readonly fallback: boolean;
  /**
   * True when the face was found only on the image padded by a margin (a tight crop: the face fills the
   * image). `face` is then in the image's own pixels and may reach past its edges.
   */
  readonly padded: boolean;
  /** How `face` was chosen among `facesFound` (the pipeline's {@link FacePipelineOptions.select}). */
  readonly selectedBy: FaceSelection;
  readonly width: number;
  readonly height: number;
  readonly times: StageTimes;
}

/** One input's outcome in {@link FacePipeline.embedMany}. */
export type EmbedManyResult =
  | ({ readonly ok: true; readonly index: number; readonly input: ImageInput } & FaceEmbedding)
  | { readonly ok: false; readonly index: number; readonly input: ImageInput; readonly error: Error };

/** The face of one image that a decision compared. */
export interface ComparedFace {
  /** The face compared (image pixels), with its quality, or null when the whole image was (`noFace: 'whole-image'`). */
  readonly face: AssessedFace | null;
  /** Faces the detector found in the image. */
  readonly facesFound: number;
  /** How `face` was chosen when there were several. */
  readonly selectedBy: FaceSelection;
  /** Found only on the image padded by a margin (a tight crop). */
  readonly padded: boolean;
  /** True when no face was found and the whole image was compared (only with `noFace: 'whole-image'`). */
  readonly fallback: boolean;
}

/** A same/different decision. */
export interface Verification {
  /** Cosine similarity in [-1, 1]. */
  readonly similarity: number;
  readonly threshold: number;
  /** similarity >= threshold. */
  readonly same: boolean;
  /** True when either side was embedded whole because no face was found (only with `noFace: 'whole-image'`). */
  readonly fallback: boolean;
  /** The face compared on each side; null for a side given as an embedding. */
  readonly faces: readonly [ComparedFace | null, ComparedFace | null];
}

/**
 * No face in an image where one is needed: `verify` on a faceless image (unless `noFace: 'whole-image'`),
 * `embed` with `noFace: 'error'`. The message names the image.
 */
export class NoFaceError extends Error {
  override readonly name = 'NoFaceError';
  /** The image: its path, or a description when it was given as bytes or pixels. */
  readonly image: string;
  constructor(image: string, message = `no face in ${image}`) {
    super(message);
    this.image = image;
  }
}

/**
 * A face below the pipeline's {@link FacePipelineOptions.minQuality} where a decision needs it (`verify`). The
 * message names the image and the measure that failed, e.g. "a.jpg: quality 0.21 < 0.50: face too small:
 * 12.0 px inter-ocular < 20.5".
 */
export class LowQualityError extends Error {
  override readonly name = 'LowQualityError';
  /** The image: its path, or a description when it was given as bytes or pixels. */
  readonly image: string;
  readonly quality: FaceQuality;
  readonly shortfall: QualityShortfall;
  constructor(image: string, quality: FaceQuality, shortfall: QualityShortfall) {
    super(`${image}: ${shortfall.message}`);
    this.image = image;
    this.quality = quality;
    this.shortfall = shortfall;
  }
}

export interface EmbedManyOptions {
  /** Images decoded and detected ahead, and crops per recogniser call (default 16). */
  readonly batchSize?: number;
  /** Called after each batch with the number of inputs done so far and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface FacePipeline {
  readonly detector: FaceDetector;
  readonly recognizer: FaceRecognizer | undefined;
  /** Detect faces in an image (any size; EXIF rotation applied). */
  detect(image: ImageInput): Promise<Detection>;
  /**
   * Detect, select one face ({@link FacePipelineOptions.select}), align it to the recogniser's template at its
   * crop size (ArcFace's 112 x 112 unless the recogniser carries its own, e.g. face-api's 150 px dlib chip), embed.
   */
  embed(image: ImageInput): Promise<FaceEmbedding>;
  /** Cosine similarity of two embeddings (their dot product when unit-length, as ours are). */
  compare(a: Float32Array, b: Float32Array): number;
  /**
   * Same person or not. Sides are images or embeddings. `threshold` defaults to the recogniser's calibrated
   * one when the zoo knows the model; otherwise it must be given.
   * @throws {@link NoFaceError} when an image holds no face, unless the pipeline has `noFace: 'whole-image'`
   */
  verify(
    a: ImageInput | Float32Array,
    b: ImageInput | Float32Array,
    threshold?: number,
  ): Promise<Verification>;
  /** Embed many images, recogniser calls batched; a bad image gives an error entry, not a rejection. */
  embedMany(inputs: readonly ImageInput[], opts?: EmbedManyOptions): Promise<EmbedManyResult[]>;
  /** Release the models' sessions. Calling it again does nothing; using the pipeline afterwards throws. */
  dispose(): Promise<void>;
}

function pick(
  faces: readonly DetectedFace[],
  how: FaceSelection,
  width: number,
  height: number,
): DetectedFace {
  const area = (f: DetectedFace): number => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
  const rank = (f: DetectedFace): number => {
    if (how === 'score') return f.score;
    if (how === 'largest') return area(f);
    const dx = (f.box.x1 + f.box.x2) / 2 - width / 2;
    const dy = (f.box.y1 + f.box.y2) / 2 - height / 2;
    return area(f) - 2 * (dx * dx + dy * dy);
  };
  return faces.reduce((best, f) => (rank(f) > rank(best) ? f : best));
}

/**
 * Margin added on each side for the second detection on a faceless image, as a fraction of its long side:
 * 0.5 makes the canvas twice the image. Detectors are trained on faces with context around them; a tight
 * crop (the face fills the image) is missed by every anchor until it has some.
 */
const RETRY_MARGIN = 0.5;
/**
 * The long side, pixels, an image is shrunk to (when larger) before padding: the retry is for crops, and a
 * canvas of 2 x 480 stays under the size at which tiling starts (about 960 px).
 */
const RETRY_MAX_SIDE = 480;

/**
 * Context a detector needs around a face, as a fraction of the face box's size on each side. A lone face
 * with less (a tight crop) is detected again on the padded copy: detectors place landmarks badly on a face
 * cut by the frame. On 100 LFW pairs cropped to the central 110 x 110 (bench/tight-crops.ts), BlazeFace
 * finds 152 of 162 crops directly, but with those landmarks the median cosine to the full image's embedding
 * is 0.971 and 9 of 100 decisions change; from crops padded first, 0.992 and 1. With this rule the
 * pipeline detects 132 of the 162 on the padded copy: median 0.992, 4 of 100 decisions change, and 98 of
 * 100 are right on crops as on full images.
 */
const CONTEXT = 0.25;

/** True when the only face leaves less than {@link CONTEXT} of its size between its box and an edge. */
function lacksContext(faces: readonly DetectedFace[], image: RgbImage): boolean {
  if (faces.length !== 1) return false;
  const { x1, y1, x2, y2 } = faces[0].box;
  const m = CONTEXT * Math.max(x2 - x1, y2 - y1);
  return x1 - m < 0 || y1 - m < 0 || x2 + m > image.width || y2 + m > image.height;
}

/** An image centred on a canvas grown by `margin` pixels on every side, edges replicated outwards. */
const padImage = extendRgb;

/** `image` shrunk so that its long side is at most `maxSide` (unchanged when smaller), and the scale used. */
async function shrinkTo(image: RgbImage, maxSide: number): Promise<{ image: RgbImage; scale: number }> {
  const long = Math.max(image.width, image.height);
  if (long <= maxSide) return { image, scale: 1 };
  const scale = maxSide / long;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  return { image: await resizeRgb(image, width, height, 'lanczos3'), scale: width / image.width };
}

/** A face found on a shrunk and padded copy, in the original image's pixels. */
function unpad(face: DetectedFace, margin: number, scale: number): DetectedFace {
  const x = (v: number): number => (v - margin) / scale;
  const p = (i: number): Point => [x(face.landmarks[i][0]), x(face.landmarks[i][1])];
  return {
    score: face.score,
    box: { x1: x(face.box.x1), y1: x(face.box.y1), x2: x(face.box.x2), y2: x(face.box.y2) },
    landmarks: [p(0), p(1), p(2), p(3), p(4)],
  };
}

/**
 * Points given in `from`'s coordinates, mapped to `to`'s: the same face found on a shrunk and padded copy and
 * in the original image differ by a scale and an offset, read from their boxes.
 */
function sameMapping(from: DetectedFace, to: DetectedFace, points: Landmarks5): Landmarks5 {
  const k = (to.box.x2 - to.box.x1) / (from.box.x2 - from.box.x1 || 1);
  const m = (p: Point): Point => [to.box.x1 + (p[0] - from.box.x1) * k, to.box.y1 + (p[1] - from.box.y1) * k];
  return [m(points[0]), m(points[1]), m(points[2]), m(points[3]), m(points[4])];
}

/** The whole image as a face crop: the centre square, resized to `width x height`. */
const wholeImageCrop = coverRgb;

/**
 * Build a face pipeline: load the detector and (if given) the recogniser.
 * @throws when a model cannot be loaded (the message names the file or spec).
 */
export async function createFacePipeline(opts: FacePipelineOptions = {}): Promise<FacePipeline> {
  const threads = opts.threads ?? availableParallelism();
  checkTilingOptions(opts.detection);
  const minQuality = opts.minQuality ?? 0;
  checkMinQuality(minQuality); // before any model is loaded
  const detector = withTiles(
    opts.models?.detector ??
      (await loadDetector(opts.detector ?? DEFAULT_DETECTOR, { ...opts.detection, threads })),
    opts.detection,
  );
  const recSpec = opts.recognizer ?? DEFAULT_RECOGNIZER;
  const recognizer = opts.models
    ? opts.models.recognizer
    : recSpec
      ? await loadRecognizer(recSpec, { ...opts.recognition, threads }).catch(async (err: unknown) => {
          await detector.dispose();
          throw err;
        })
      : undefined;
  // Loaded models (the web page's) come without a mesh unless one is asked for by name.
  const landmarkSource = opts.landmarks ?? (opts.models ? 'detector' : DEFAULT_LANDMARKS);
  const mesh =
    recognizer && landmarkSource !== 'detector'
      ? await loadMeshLandmarker(landmarkSource, { threads }).catch(async (err: unknown) => {
          await Promise.all([detector.dispose(), recognizer.dispose()]);
          throw err;
        })
      : undefined;
  const select = opts.select ?? 'largest';
  const noFace: NoFacePolicy | undefined =
    opts.noFace ?? (opts.fallback === undefined ? undefined : opts.fallback ? 'whole-image' : 'error');
  if (noFace !== undefined && noFace !== 'whole-image' && noFace !== 'error') {
    await Promise.all([detector.dispose(), recognizer?.dispose(), mesh?.dispose()]);
    throw new Error(`noFace must be 'whole-image' or 'error', got ${JSON.stringify(noFace)}`);
  }

  const needRecognizer = (): FaceRecognizer => {
    if (!recognizer) throw new Error('this pipeline was created with recognizer: false: it only detects');
    return recognizer;
  };

  interface Prepared {
    readonly crop: RgbImage;
    readonly face: AssessedFace | null;
    readonly facesFound: number;
    readonly padded: boolean;
    readonly width: number;
    readonly height: number;
    readonly decodeMs: number;
    readonly detectMs: number;
    readonly alignMs: number;
  }

  /**
   * Faces in `image`; when there are none, faces on a shrunk copy padded by a margin (a tight crop), with the
   * copy to align them from and the faces in the original's pixels.
   */
  async function findFaces(image: RgbImage): Promise<{
    faces: DetectedFace[];
    source: RgbImage;
    /** Faces in `source` pixels, parallel to `faces`. */
    inSource: DetectedFace[];
    padded: boolean;
  }> {
    const faces = await detector.detect(image);
    if (faces.length > 0 && !lacksContext(faces, image)) {
      return { faces, source: image, inSource: faces, padded: false };
    }
    const small = await shrinkTo(image, RETRY_MAX_SIDE);
    const margin = Math.round(RETRY_MARGIN * Math.max(small.image.width, small.image.height));
    const canvas = await padImage(small.image, margin);
    const found = await detector.detect(canvas);
    // A face found directly near the edge is kept when the padded copy finds none.
    if (found.length === 0 && faces.length > 0) {
      return { faces, source: image, inSource: faces, padded: false };
    }
    return {
      faces: found.map((f) => unpad(f, margin, small.scale)),
      source: canvas,
      inSource: found,
      padded: found.length > 0,
    };
  }

  /** Decode, detect and align one image (everything before the recogniser). */
  async function prepare(input: ImageInput, rec: FaceRecognizer, label: string): Promise<Prepared> {
    const t0 = performance.now();
    const image = await decodeImage(input, opts.decode);
    const t1 = performance.now();
    const { faces, source, inSource, padded } = await findFaces(image);
    const t2 = performance.now();
    const { width, height } = rec.inputSize;
    let face: AssessedFace | null = null;
    let crop: RgbImage;
    if (faces.length > 0) {
      const picked = pick(faces, select, image.width, image.height);
      // Aligned from the padded copy when the face was found there: its landmarks may lie near or past the
      // original's edges, and the replicated margin gives the warp pixels to sample.
      const detected = inSource[faces.indexOf(picked)];
      const refined = mesh ? await mesh.refine(source, detected) : detected;
      const landmarks = refined.landmarks;
      const located =
        refined === detected ? picked : { ...picked, landmarks: sameMapping(detected, picked, landmarks) };
      // Sizes in the original's pixels, sharpness on the same pixels the recogniser's crop comes from.
      face = { ...located, quality: faceQuality(located, qualityCrop(source, landmarks)) };
      // The template is for square crops: a non-square recogniser gets the square aligned at its width, then
      // centre-cropped (not stretched) to its height.
      crop = alignFace(source, landmarks, width, rec.template);
      if (height !== width) crop = await wholeImageCrop(crop, width, height);
    } else if (noFace !== 'error') {
      crop = await wholeImageCrop(image, width, height);
    } else {
      throw new NoFaceError(typeof input === 'string' ? input : label);
    }
    const t3 = performance.now();
    return {
      crop,
      face,
      facesFound: faces.length,
      padded,
      width: image.width,
      height: image.height,
      decodeMs: t1 - t0,
      detectMs: t2 - t1,
      alignMs: t3 - t2,
    };
  }

  function finish(p: Prepared, embedding: Float32Array, embedMs: number): FaceEmbedding {
    return {
      embedding,
      face: p.face,
      facesFound: p.facesFound,
      fallback: p.face === null,
      padded: p.padded,
      selectedBy: select,
      width: p.width,
      height: p.height,
      times: { decodeMs: p.decodeMs, detectMs: p.detectMs, alignMs: p.alignMs, embedMs },
    };
  }

  const compare = (a: Float32Array, b: Float32Array): number => cosineSimilarity(a, b);

  // Disposing twice is harmless: the second call waits for the first.
  let disposed: Promise<void> | null = null;
  const pipeline: FacePipeline = {
    detector,
    recognizer,
    async detect(input) {
      const image = await decodeImage(input, opts.decode);
      const faces = await detector.detect(image);
      return {
        width: image.width,
        height: image.height,
        faces: faces.map((f) => ({ ...f, quality: faceQuality(f, qualityCrop(image, f.landmarks)) })),
      };
    },
    async embed(input) {
      const rec = needRecognizer();
      const p = await prepare(input, rec, 'the image');
      const t = performance.now();
      const [embedding] = await rec.embed([p.crop]);
      return finish(p, embedding, performance.now() - t);
    },
    compare,
    async verify(a, b, threshold) {
      const rec = needRecognizer();
      const th = threshold ?? rec.threshold;
      if (th === undefined) {
        throw new Error(`no calibrated threshold is known for ${rec.spec}: pass one (CLI: --threshold T)`);
      }
      checkThreshold(th); // before any image is embedded
      const side = async (
        x: ImageInput | Float32Array,
        label: string,
      ): Promise<{ v: Float32Array; compared: ComparedFace | null }> => {
        if (x instanceof Float32Array) return { v: x, compared: null };
        const e = await pipeline.embed(x);
        // The default embeds a faceless image whole so that batches keep their rows; a decision must not
        // rest on it unless the caller asked for that.
        if (e.fallback && noFace !== 'whole-image') {
          throw new NoFaceError(typeof x === 'string' ? x : label);
        }
        const short = e.face && qualityShortfall(e.face.quality, minQuality);
        if (e.face && short)
          throw new LowQualityError(typeof x === 'string' ? x : label, e.face.quality, short);
        const { face, facesFound, selectedBy, padded, fallback: whole } = e;
        return { v: e.embedding, compared: { face, facesFound, selectedBy, padded, fallback: whole } };
      };
      const ea = await side(a, 'image a');
      const eb = await side(b, 'image b');
      const { similarity, same } = decideSame(ea.v, eb.v, th, ['embedding a', 'embedding b']);
      return {
        similarity,
        threshold: th,
        same,
        fallback: (ea.compared?.fallback ?? false) || (eb.compared?.fallback ?? false),
        faces: [ea.compared, eb.compared],
      };
    },
    async embedMany(inputs, manyOpts = {}) {
      const rec = needRecognizer();
      const batch = Math.max(1, manyOpts.batchSize ?? 16);
      const results: EmbedManyResult[] = [];
      // Decoding runs on libuv threads: start the next batch's decode while this one is detected and embedded.
      const decodeAll = (start: number): Promise<PromiseSettledResult<Prepared>>[] =>
        inputs
          .slice(start, start + batch)
          .map((input, k) =>
            Promise.allSettled([prepare(input, rec, `input ${start + k}`)]).then(([r]) => r),
          );
      let pending = decodeAll(0);
      for (let start = 0; start < inputs.length; start += batch) {
        const settled = await Promise.all(pending);
        if (start + batch < inputs.length) pending = decodeAll(start + batch);
        const ready = settled.flatMap((r, i) =>
          r.status === 'fulfilled' ? [{ i: start + i, p: r.value }] : [],
        );
        const t = performance.now();
        const embeddings = await rec.embed(ready.map((r) => r.p.crop));
        const share = ready.length > 0 ? (performance.now() - t) / ready.length : 0;
        const byIndex = new Map(ready.map((r, k) => [r.i, finish(r.p, embeddings[k], share)]));
        settled.forEach((r, k) => {
          const index = start + k;
          const input = inputs[index];
          const done = byIndex.get(index);
          if (done) results.push({ ok: true, index, input, ...done });
          else if (r.status === 'rejected') {
            const error = r.reason instanceof Error ? r.reason : new Error(String(r.reason));
            results.push({ ok: false, index, input, error });
          }
        });
        manyOpts.onProgress?.(Math.min(inputs.length, start + batch), inputs.length);
      }
      return results;
    },
    dispose() {
      disposed ??= (async () => {
        await detector.dispose();
        await recognizer?.dispose();
        await mesh?.dispose();
      })();
      return disposed;
    },
  };
  return pipeline;
}
