/**
 * Group a set of photos by person: every face found (or only the largest per photo) is aligned, embedded and
 * clustered (src/gallery/cluster.ts); each face keeps a small aligned thumbnail for the contact sheet.
 */
import sharp from 'sharp';
import { l2Normalize } from '../eval/similarity.js';
import { type FacePipeline, alignFace, decodeImage } from '../face/index.js';
import type { DetectedFace, FaceRecognizer, Landmarks5, RgbImage } from '../face/index.js';
import {
  type ClusterOptions,
  type Clustering,
  type ThresholdSource,
  clusterEmbeddings,
  clusterThreshold,
} from './cluster.js';

/** One face found in one photo. */
export interface PhotoFace {
  /** The photo, as given. */
  readonly image: string;
  /** Which face of the photo, by descending detector score. */
  readonly faceIndex: number;
  readonly face: DetectedFace;
  /** Unit-length embedding. */
  readonly embedding: Float32Array;
  /** JPEG bytes of the face aligned upright with some margin, `thumbnailSize` square; absent when off. */
  readonly thumbnail?: Uint8Array;
}

/** What {@link clusterPhotos} found. */
export interface PhotoClusters {
  /** Every face embedded, in photo order; `clustering` indexes this list. */
  readonly faces: readonly PhotoFace[];
  readonly clustering: Clustering;
  /** Photos where the detector found no face (not clustered). */
  readonly noFace: readonly string[];
  /** Photos that could not be read, with why. */
  readonly failed: readonly { readonly image: string; readonly error: string }[];
  /** The similarity threshold used, and where it came from. */
  readonly threshold: number | undefined;
  readonly thresholdSource: ThresholdSource;
  readonly recognizer: string;
}

/** Options for {@link clusterPhotos}. */
export interface ClusterPhotosOptions extends Omit<ClusterOptions, 'threshold'> {
  /**
   * Defaults to the threshold measured on LFW for the recogniser and method ({@link clusterThreshold}), else
   * the recogniser's calibrated verification threshold.
   */
  readonly threshold?: number;
  /** Neighbours per face in the k-NN graph (default 32). */
  readonly k?: number;
  /** Every face of each photo (default) or only the largest. */
  readonly faces?: 'all' | 'largest';
  /** Side of the JPEG thumbnails kept per face, pixels (default 96; 0 keeps none). */
  readonly thumbnailSize?: number;
  /** Faces per recogniser call (default 16). */
  readonly batchSize?: number;
  /** Called after each photo with photos done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** ArcFace's template shrunk towards the crop centre, so a thumbnail shows the whole head, not just the inner face. */
function looseTemplate(size: number, margin = 0.7): Landmarks5 {
  const t: [number, number][] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
  ];
  const s = size / 112;
  return t.map(([x, y]) => [
    (56 + (x - 56) * margin) * s,
    (56 + (y - 56) * margin) * s,
  ]) as unknown as Landmarks5;
}

async function jpeg(image: RgbImage): Promise<Uint8Array> {
  const buf = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** The recogniser's crop: aligned square at its width, centre-cropped to its height when it is not square. */
async function recognizerCrop(image: RgbImage, face: DetectedFace, rec: FaceRecognizer): Promise<RgbImage> {
  const { width, height } = rec.inputSize;
  const crop = alignFace(image, face.landmarks, width, rec.template);
  if (height === width) return crop;
  const data = await sharp(crop.data, { raw: { width, height: width, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
}

/**
 * Detect, align and embed the faces of `images`, then cluster them.
 * @param pipeline a pipeline with a recogniser
 * @param images photo paths
 * @throws when the pipeline has no recogniser, no threshold is given for an uncalibrated recogniser, or no
 *   face is found in any photo
 */
export async function clusterPhotos(
  pipeline: FacePipeline,
  images: readonly string[],
  opts: ClusterPhotosOptions,
): Promise<PhotoClusters> {
  const rec = pipeline.recognizer;
  if (!rec) throw new Error('clusterPhotos: the pipeline has no recogniser');
  const { threshold, source } = clusterThreshold(opts.method, rec.spec, rec.threshold, opts.threshold);
  if (threshold === undefined && opts.method !== 'rank-order') {
    throw new Error(`no calibrated threshold is known for ${rec.spec}: pass one (CLI: --threshold T)`);
  }
  const thumbSize = opts.thumbnailSize ?? 96;
  const batchSize = opts.batchSize ?? 16;
  const faces: PhotoFace[] = [];
  const noFace: string[] = [];
  const failed: { image: string; error: string }[] = [];
  let pending: { meta: Omit<PhotoFace, 'embedding'>; crop: RgbImage }[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const vectors = await rec.embed(pending.map((p) => p.crop));
    pending.forEach((p, i) => faces.push({ ...p.meta, embedding: vectors[i] }));
    pending = [];
  };
  for (let n = 0; n < images.length; n++) {
    const path = images[n];
    let image: RgbImage;
    let found: DetectedFace[];
    try {
      image = await decodeImage(path);
      found = await pipeline.detector.detect(image);
    } catch (err) {
      failed.push({ image: path, error: err instanceof Error ? err.message : String(err) });
      opts.onProgress?.(n + 1, images.length);
      continue;
    }
    if (found.length === 0) noFace.push(path);
    const area = (f: DetectedFace): number => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
    const chosen =
      opts.faces === 'largest' && found.length > 0
        ? [found.reduce((best, f) => (area(f) > area(best) ? f : best))]
        : found;
    for (const face of chosen) {
      const thumbnail =
        thumbSize > 0
          ? await jpeg(alignFace(image, face.landmarks, thumbSize, looseTemplate(thumbSize)))
          : undefined;
      pending.push({
        meta: { image: path, faceIndex: found.indexOf(face), face, ...(thumbnail ? { thumbnail } : {}) },
        crop: await recognizerCrop(image, face, rec),
      });
      if (pending.length >= batchSize) await flush();
    }
    opts.onProgress?.(n + 1, images.length);
  }
  await flush();
  if (faces.length === 0) {
    throw new Error(`no face found in any of the ${images.length} photo(s)`);
  }
  const dim = rec.dim;
  const rows = new Float32Array(faces.length * dim);
  faces.forEach((f, i) => rows.set(f.embedding, i * dim));
  const normed = l2Normalize(
    rows,
    dim,
    (r) => `the embedding of face ${faces[r].faceIndex} in ${faces[r].image}`,
  );
  const { onProgress: _photos, ...clusterOpts } = opts;
  const clustering = await clusterEmbeddings(normed, dim, { ...clusterOpts, threshold });
  return { faces, clustering, noFace, failed, threshold, thresholdSource: source, recognizer: rec.spec };
}
