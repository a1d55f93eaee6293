/**
 * Small faces in large images: a wrapper that runs any {@link FaceDetector} on the whole image and, when the
 * image is large relative to the detector's input, also on overlapping tiles of a resolution pyramid, maps
 * every detection (box and 5 landmarks) back to image pixels and merges them.
 *
 * Why: a detector letterboxes the whole image into its input (BlazeFace `blazeface:back` 256 x 256, SCRFD
 * 640 x 640), so a 60 px face in a 4000 x 3000 photo reaches BlazeFace as a 4 px blob. Measured on five LFW
 * faces pasted onto a grey canvas of exactly the input size (no resizing), the detectors find faces from
 * 6-8 input pixels (BlazeFace back, scores 0.67-0.82), 10-12 px (SCRFD-500m at 640; BlazeFace front at 128),
 * and every one, at scores of about 0.7 or more, from 16 px ({@link MIN_FACE_INPUT}); the largest they find
 * is about 0.6-0.8 of the input side. On busy backgrounds and in real photos the small end is less sure.
 *
 * The pyramid: level 0 is the whole image, the detector's own call (same call, same result). Finer levels
 * rescale the image by factors growing geometrically, at most x2 a level, up to the scale at which a face of
 * `minFaceSize` image pixels measures {@link MIN_FACE_INPUT} detector pixels (never above the image's own
 * resolution), and cut each level into input-sized tiles overlapping by {@link TILE_OVERLAP} pixels. A face is
 * the job of the coarsest level at which it measures 16 px or more; there it measures under 32 px (the x2
 * step), so it lies whole in at least one tile, away from the tile's edges. Each level therefore keeps its
 * detections of 16 to 64 px (the finest level: up to 64 px); larger ones are the coarser levels' job (and on
 * noise the source of most false positives when kept), smaller ones the finer levels', which box them better
 * (keeping them doubled faces in shrunk group photos: a 9 px box beside the 16 px one of the level below).
 *
 * Merging ({@link mergeTiled}): the detector's NMS ({@link nms}) over all runs, then a face half or more
 * inside a higher-scoring face from another run is dropped; a face cut by a tile edge (its box within a few
 * pixels of an edge of its tile that lies inside the image) comes last, kept only where it clashes with no
 * other face, so a part of a face never displaces the whole face found by another tile or level.
 *
 * Cost and yield, measured on the 2-core development machine (shared; medians of 3), BlazeFace back at
 * 2 threads (one run of the 256 px model: about 10 ms in ONNX Runtime, 13-16 ms with letterbox and decoding);
 * "faces": of 22 real faces (counted per photo), 29-61 px, in six face-api sample photos shrunk to 1/4-1/6
 * and pasted into a 3000 x 2000 canvas of noise (the detector alone finds none, only a blob of several):
 *
 * | minFaceSize | runs (3000 x 2000) | ms, 3000 x 2000 | faces found  | ms, 4000 x 3000 | ms, 1920 x 1280 |
 * | ----------- | ------------------ | --------------- | ------------ | --------------- | --------------- |
 * | no tiles    | 1                  | 25              | 0 / 22       | 30              | 21              |
 * | 64          | 17                 | 244             | ≤ 18 (+2)    |                 |                 |
 * | 48          | 27                 | 383             | 20 / 22      |                 |                 |
 * | 40 (default)| 41                 | 550-660         | 22 / 22      | 1,100           | 250             |
 * | 32          | 59                 | 900-940         | 22 / 22      |                 |                 |
 * | 24          | 104                | 1,360-1,630     | 22 / 22      |                 |                 |
 *
 * SCRFD-500m (640 px input, one run about 35-45 ms) needs fewer tiles for the same faces: on the 3000 x 2000
 * image 44 ms alone (5 / 22 faces), 160-180 ms at 40 (5 runs, 20 / 22), 290-350 ms at 32 (11 runs, 22 / 22).
 *
 * Precision: more runs give the detector more chances of a low-score false positive. On the six sample
 * photos at their own 1920 px (tiled at the default) the counts are right, one face more than the detector
 * alone finds (a face looking down); upscaled x2 to 3840 px, four of the six gain 1-2 detections at scores
 * 0.51-0.61 (badges, a brooch). Small real faces score as low (0.50-0.66), so the score threshold is the
 * detector's own for every run; raise `scoreThreshold` to trade recall for precision.
 */
import { resizeRgb } from './image-ops.js';
import { iou, nms } from './nms.js';
import type { Box, DetectedFace, FaceDetector, Point, RgbImage } from './types.js';

/** Options for tiled detection (the pipeline's `detection` options). */
export interface TilingOptions {
  /**
   * 'auto' (default): add tiles when the whole-image pass cannot find faces of `minFaceSize`, i.e. when the
   * image is more than 1.5 x (`minFaceSize` / 16) times the detector's input: with the default `minFaceSize`,
   * images over 960 px on their long side for BlazeFace back (256 px input), over 2,400 px for SCRFD at 640.
   * Smaller images, LFW's 250 x 250 among them, take the detector's own path, with its own results.
   * `false`: the whole image only.
   */
  readonly tiles?: 'auto' | false;
  /**
   * Side of the smallest face to find, in pixels of the original image (after EXIF rotation), default
   * {@link DEFAULT_MIN_FACE_SIZE}. The finest level is the one where such a face measures {@link MIN_FACE_INPUT}
   * detector pixels, and never finer than the image itself: smaller values cost more tiles, roughly
   * `(image pixels) x (16 / minFaceSize)^2 / (tile area)`.
   */
  readonly minFaceSize?: number;
  /**
   * IoU above which the lower-scoring of two faces from different tiles or levels is dropped, in [0, 1]
   * (default 0.3). The pipeline passes its `detection.nmsThreshold`, which the detector uses too.
   */
  readonly nmsThreshold?: number;
}

/** Side, in detector-input pixels, from which the detectors find faces reliably (measured; see above). */
export const MIN_FACE_INPUT = 16;
/**
 * Default smallest face to find, in image pixels: 40, the cheapest setting that found all 22 faces of the
 * shrunk group photos with BlazeFace (module comment). It adds tiles to images over 960 px (BlazeFace):
 * about 0.6 s a 3000 x 2000 photo at 2 threads, against 25 ms untiled.
 */
export const DEFAULT_MIN_FACE_SIZE = 40;
/**
 * Overlap of neighbouring tiles, in pixels of their level: 4 x {@link MIN_FACE_INPUT}, twice the largest face
 * a level is responsible for, so that face and some context lie whole in a tile.
 */
export const TILE_OVERLAP = 4 * MIN_FACE_INPUT;
/** A detection within this many level pixels of a tile edge inside the image is taken as cut by the tile. */
const CUT_MARGIN = TILE_OVERLAP / 8;
/** Tiling starts when the image is this many times larger than needed for `minFaceSize`. */
const ENGAGE_RATIO = 1.5;

/** One tile: a rectangle of a pyramid level, in that level's pixels. */
export interface Tile {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** One tiled level: the image resized by `scale` (level pixels per image pixel) and cut into tiles. */
export interface TileLevel {
  /** Level size in pixels; `scaleX = width / imageWidth`, `scaleY = height / imageHeight`. */
  readonly width: number;
  readonly height: number;
  readonly tiles: readonly Tile[];
}

/** Throw when tiling options are malformed (a `minFaceSize` that is not a positive number, an unknown `tiles`). */
export function checkTilingOptions(opts: TilingOptions = {}): void {
  const { tiles, minFaceSize } = opts;
  if (tiles !== undefined && tiles !== 'auto' && tiles !== false) {
    throw new Error(`tiles must be 'auto' or false, got ${JSON.stringify(tiles)}`);
  }
  if (minFaceSize !== undefined && !(minFaceSize > 0 && Number.isFinite(minFaceSize))) {
    throw new Error(`minFaceSize must be a positive number of pixels, got ${minFaceSize}`);
  }
}

/** Start positions of `span`-long windows covering `length` with at least `overlap` in common. */
function starts(length: number, span: number, overlap: number): number[] {
  if (length <= span) return [0];
  const n = Math.ceil((length - overlap) / (span - overlap));
  return Array.from({ length: n }, (_, i) => Math.round((i * (length - span)) / (n - 1)));
}

/**
 * The tiled levels for an image (level 0, the whole image, not included): empty when the whole-image pass
 * already finds faces of `minFaceSize` (or tiling is off).
 * @param width image width, pixels
 * @param height image height, pixels
 * @param input the detector's input size, pixels
 */
export function tilePlan(
  width: number,
  height: number,
  input: { readonly width: number; readonly height: number },
  opts: TilingOptions = {},
): TileLevel[] {
  checkTilingOptions(opts);
  if (opts.tiles === false) return [];
  const minFace = opts.minFaceSize ?? DEFAULT_MIN_FACE_SIZE;
  const overlap = Math.min(TILE_OVERLAP, Math.floor(Math.min(input.width, input.height) / 2));
  const s0 = Math.min(input.width / width, input.height / height);
  const sK = Math.min(1, MIN_FACE_INPUT / minFace);
  const ratio = sK / s0;
  if (!(ratio > ENGAGE_RATIO)) return [];
  const n = Math.ceil(Math.log2(ratio));
  const step = ratio ** (1 / n);
  const levels: TileLevel[] = [];
  for (let k = 1; k <= n; k++) {
    const s = k === n ? sK : s0 * step ** k;
    const lw = Math.max(1, Math.round(width * s));
    const lh = Math.max(1, Math.round(height * s));
    const tw = Math.min(input.width, lw);
    const th = Math.min(input.height, lh);
    const tiles: Tile[] = [];
    for (const y of starts(lh, th, overlap))
      for (const x of starts(lw, tw, overlap)) tiles.push({ x, y, width: tw, height: th });
    levels.push({ width: lw, height: lh, tiles });
  }
  return levels;
}

/** A rectangle of an RGB image, copied row by row. */
function crop(image: RgbImage, t: Tile): RgbImage {
  if (t.x === 0 && t.y === 0 && t.width === image.width && t.height === image.height) return image;
  const data = new Uint8Array(t.width * t.height * 3);
  const row = t.width * 3;
  for (let y = 0; y < t.height; y++) {
    const src = ((t.y + y) * image.width + t.x) * 3;
    data.set(image.data.subarray(src, src + row), y * row);
  }
  return { data, width: t.width, height: t.height };
}

async function resize(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  // The kernel letterbox() uses, so that a level looks to the detector as a letterboxed image would.
  return resizeRgb(image, width, height, 'linear');
}

const area = (b: Box): number => Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);

/** Share of `a`'s area inside `b`. */
function covered(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  const aa = area(a);
  return iw > 0 && ih > 0 && aa > 0 ? (iw * ih) / aa : 0;
}

/** A detection in image pixels, with where it came from. */
export interface Candidate {
  readonly face: DetectedFace;
  /** Which detector run found it (0: the whole image; then one per tile). */
  readonly run: number;
  /** Touches an edge of its tile that lies inside the image: possibly a part of a face. */
  readonly cut: boolean;
}

/**
 * Merge detections from the whole image and the tiles. The whole faces go through {@link nms}; then, since two
 * runs at different scales box the same small face differently (a 20 px face: a 20 px box from a fine level,
 * a 38 px one from a coarse level, IoU 0.27), a face half or more inside a higher-scoring face from another
 * run is dropped too. Last, each cut face (by descending score) is added where it clashes with no kept face
 * in either way: its whole-face detection, when it has one, always does.
 */
export function mergeTiled(candidates: readonly Candidate[], iouThreshold: number): DetectedFace[] {
  const runOf = new Map(candidates.map((c) => [c.face, c.run]));
  const clash = (a: DetectedFace, b: DetectedFace): boolean =>
    iou(a.box, b.box) > iouThreshold ||
    (runOf.get(a) !== runOf.get(b) && (covered(a.box, b.box) >= 0.5 || covered(b.box, a.box) >= 0.5));
  const kept: DetectedFace[] = [];
  for (const f of nms(
    candidates.filter((c) => !c.cut).map((c) => c.face),
    iouThreshold,
  )) {
    if (!kept.some((k) => clash(f, k))) kept.push(f);
  }
  const cut = candidates.filter((c) => c.cut).sort((a, b) => b.face.score - a.face.score);
  for (const { face } of cut) if (!kept.some((k) => clash(face, k))) kept.push(face);
  return kept.sort((a, b) => b.score - a.score);
}

/**
 * Wrap a detector so that it also finds faces down to `minFaceSize` pixels in large images (see the module
 * comment). Returns `base` itself when tiling is off or the detector's input size is unknown; otherwise images
 * that need no tiles go straight to `base.detect`, so their results are the detector's own.
 */
export function withTiles(base: FaceDetector, opts: TilingOptions = {}): FaceDetector {
  checkTilingOptions(opts);
  const input = base.inputSize;
  if (opts.tiles === false || !input) return base;
  const iouThreshold = opts.nmsThreshold ?? 0.3;
  return {
    spec: base.spec,
    inputSize: input,
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      const levels = tilePlan(image.width, image.height, input, opts);
      const whole = await base.detect(image);
      if (levels.length === 0) return whole;
      // Each level keeps the faces it sees at 16 px or more, the sizes it finds reliably; smaller ones are
      // the next level's, which sees them larger and boxes them better (the finest level keeps all). Level 0
      // keeps the large ones too: no other level can see them whole.
      const side = (b: Box): number => Math.max(b.x2 - b.x1, b.y2 - b.y1);
      const s0 = Math.min(input.width / image.width, input.height / image.height);
      const candidates: Candidate[] = whole
        .filter((face) => side(face.box) * s0 >= MIN_FACE_INPUT)
        .map((face) => ({ face, run: 0, cut: false }));
      let run = 0;
      for (const [index, level] of levels.entries()) {
        const finest = index === levels.length - 1;
        const scaled = await resize(image, level.width, level.height);
        const sx = level.width / image.width;
        const sy = level.height / image.height;
        for (const t of level.tiles) {
          run++;
          for (const f of await base.detect(crop(scaled, t))) {
            const { x1, y1, x2, y2 } = f.box;
            const cut =
              (t.x > 0 && x1 < CUT_MARGIN) ||
              (t.y > 0 && y1 < CUT_MARGIN) ||
              (t.x + t.width < level.width && x2 > t.width - CUT_MARGIN) ||
              (t.y + t.height < level.height && y2 > t.height - CUT_MARGIN);
            // Larger than the overlap: the coarser levels' job (where it measures 32 px or more), possibly cut,
            // and on noise the source of most false positives when kept.
            if (side(f.box) > TILE_OVERLAP || (!finest && side(f.box) < MIN_FACE_INPUT)) continue;
            const p = (q: Point): Point => [(q[0] + t.x) / sx, (q[1] + t.y) / sy];
            const [a, b, c, d, e] = f.landmarks;
            const face: DetectedFace = {
              box: { x1: (x1 + t.x) / sx, y1: (y1 + t.y) / sy, x2: (x2 + t.x) / sx, y2: (y2 + t.y) / sy },
              score: f.score,
              landmarks: [p(a), p(b), p(c), p(d), p(e)],
            };
            candidates.push({ face, run, cut });
          }
        }
      }
      return mergeTiled(candidates, iouThreshold);
    },
    dispose: () => base.dispose(),
  };
}
