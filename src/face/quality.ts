/**
 * A quality score per face: size, sharpness, pose and detector confidence, each mapped to a factor in [0, 1],
 * and their product as one score. Computed from the five landmarks and a 112-px ArcFace-template crop, so it
 * needs no model and does not depend on which recogniser the pipeline uses.
 */
import { alignFace } from './align.js';
import type { DetectedFace, Landmarks5, Point, RgbImage } from './types.js';

/** The side, pixels, of the crop sharpness is measured on: ArcFace's template, whatever the recogniser's. */
export const QUALITY_CROP = 112;

/** The measures one score is made of, as `minQuality` failures name them. */
export type QualityMeasure = 'size' | 'sharpness' | 'yaw' | 'pitch' | 'detector';

/** How one face measures up. Angles in degrees, sizes in image pixels. */
export interface FaceQuality {
  /** Product of {@link factors}, in [0, 1]; 1 means no measure is below its "full marks" level. */
  readonly score: number;
  readonly size: {
    /** Distance between the two eye landmarks, image pixels. */
    readonly interOcular: number;
    /** The detector box's shorter side, image pixels. */
    readonly boxShortSide: number;
  };
  /**
   * Variance of the Laplacian of the grey crop's inner face over the grey variance (plus a noise floor), on a
   * 112-px aligned crop: dimensionless, independent of image and recogniser crop size. See {@link sharpnessOf}.
   */
  readonly sharpness: number;
  /** Positive when the face turns towards the image's right (the nose lies right of the eyes' midpoint). */
  readonly yaw: number;
  /** Positive when the face tilts up (the nose tip rises towards the eyes). */
  readonly pitch: number;
  /** Angle of the eye line; positive clockwise in the image (y down). Alignment removes it, so it costs nothing. */
  readonly roll: number;
  /** The detector's confidence, [0, 1]. */
  readonly detectorScore: number;
  /** Each measure's factor in [0, 1]; {@link score} is their product. */
  readonly factors: Readonly<Record<QualityMeasure, number>>;
}

/** A linear ramp: factor 0 at or below `zero`, 1 at or above `full` (for yaw and pitch: of the absolute angle, reversed). */
export interface Ramp {
  readonly zero: number;
  readonly full: number;
}

/** Where each factor starts to fall and where it reaches 0. */
export interface QualityThresholds {
  /** Inter-ocular distance, image pixels. */
  readonly interOcular: Ramp;
  readonly sharpness: Ramp;
  /** |yaw| in degrees: `full` is the largest angle with factor 1, `zero` the one at which it reaches 0. */
  readonly yaw: Ramp;
  /** |pitch| in degrees, as yaw. */
  readonly pitch: Ramp;
  readonly detector: Ramp;
}

/**
 * Thresholds for the default pipeline (BlazeFace landmarks), chosen on LFW (docs/MODELS.md, "Quality"):
 * - size: ArcFace's 112-px template puts the eyes 35 px apart, so a face at 32 px or more loses under a tenth
 *   of its resolution to upsampling into the crop; at 8 px almost nothing is left of the face. LFW's faces
 *   measure 33 to 59 px (1st to 99th percentile), so size only matters off LFW.
 * - sharpness: the ramp spans LFW's lower tail (300 images: 1st percentile 0.027, 25th 0.068, median 0.097),
 *   where the blurred news photos are.
 * - yaw and pitch: recognisers trained on mostly frontal faces lose accuracy slowly to 20 degrees and fast beyond;
 *   five-point angles are rough (see {@link poseOf}), so the ramps are wide.
 * - detector: BlazeFace keeps faces from 0.5; LFW's faces score 0.7 and more almost always.
 */
export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = {
  interOcular: { zero: 8, full: 32 },
  sharpness: { zero: 0.02, full: 0.08 },
  yaw: { zero: 60, full: 20 },
  pitch: { zero: 50, full: 20 },
  detector: { zero: 0.5, full: 0.8 },
};

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const rampUp = (v: number, r: Ramp): number => clamp01((v - r.zero) / (r.full - r.zero));
/** For angles: 1 up to |v| = full, 0 from |v| = zero. */
const rampAngle = (v: number, r: Ramp): number => clamp01((r.zero - Math.abs(v)) / (r.zero - r.full));
const DEG = 180 / Math.PI;

/**
 * Relative depths of a mean 3-D face (the six-point model head-pose estimators use with solvePnP, eye centres
 * placed at 0.7 of the outer eye corners): the nose tip lies 0.43 eye distances in front of the eye centres, and
 * the eye line 170 units above it and the mouth 150 below, at depths -135 and -125.
 */
const NOSE_DEPTH_PER_EYE_DISTANCE = 0.43;
const EYE_HEIGHT = 170;
const EYE_DEPTH = 135;
const MOUTH_HEIGHT = 150;
const MOUTH_DEPTH = 125;
/** Where the nose tip sits between the eyes and the mouth on a frontal face: ArcFace's template, (y_nose - y_eyes) / (y_mouth - y_eyes). */
const FRONTAL_NOSE_RATIO = (71.7366 - 51.59885) / (92.2848 - 51.59885);

/**
 * Yaw, pitch and roll in degrees from five landmarks, by a weak-perspective mean face:
 * roll is the eye line's angle; after undoing it, yaw comes from how far the nose tip lies beside the eyes'
 * midpoint (in eye distances: 0.43 tan(yaw) on the mean face), pitch from where it lies between the eye line and
 * the mouth (its frontal place is ArcFace's template).
 *
 * Limits: individual noses differ from the mean one by a third or so, which scales yaw and pitch by as much;
 * BlazeFace's mouth corners are placed from the mouth centre (their midpoint is still measured); landmarks
 * of faces turned past about 45 degrees are guessed by the detector, so large angles are underestimated;
 * the landmarks are in image order (left eye is the image's left), so a face upside down reads as roll near 0.
 */
export function poseOf(landmarks: Landmarks5): { yaw: number; pitch: number; roll: number } {
  const [le, re, nose, ml, mr] = landmarks;
  const roll = Math.atan2(re[1] - le[1], re[0] - le[0]);
  const mid: Point = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const c = Math.cos(-roll);
  const s = Math.sin(-roll);
  /** A point in the frame centred on the eyes' midpoint with the eye line horizontal. */
  const upright = ([x, y]: Point): Point => {
    const dx = x - mid[0];
    const dy = y - mid[1];
    return [c * dx - s * dy, s * dx + c * dy];
  };
  const eyeDistance = Math.hypot(re[0] - le[0], re[1] - le[1]);
  const n = upright(nose);
  const m = upright([(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2]);
  const yaw = eyeDistance > 0 ? Math.atan(n[0] / eyeDistance / NOSE_DEPTH_PER_EYE_DISTANCE) : 0;
  // On the mean face, (eyes-to-nose) / (eyes-to-mouth) = (170 + 135 t) / (320 + 10 t) at t = tan(pitch down):
  // solved for t, offset so that the template's ratio reads 0.
  const ratio = m[1] > 0 ? n[1] / m[1] : FRONTAL_NOSE_RATIO;
  const tanDown = (r: number): number =>
    ((EYE_HEIGHT + MOUTH_HEIGHT) * r - EYE_HEIGHT) / (EYE_DEPTH - (EYE_DEPTH - MOUTH_DEPTH) * r);
  const pitch = -Math.atan(tanDown(ratio) - tanDown(FRONTAL_NOSE_RATIO));
  return { yaw: yaw * DEG, pitch: pitch * DEG, roll: roll * DEG };
}

/**
 * Grey levels squared added to the grey variance: the sensor and JPEG noise of a flat region, so that a
 * featureless crop does not score as sharp on its noise alone.
 */
const NOISE_FLOOR = 25;
/** The inner face in the 112-px template crop (rows and columns, end exclusive): brows to chin, cheek to cheek. */
const INNER = { x0: 20, x1: 92, y0: 28, y1: 108 };

/**
 * Sharpness of a 112-px ArcFace-aligned crop: the variance of the 4-neighbour Laplacian of its grey image over
 * the inner face, divided by the grey variance there plus {@link NOISE_FLOOR}. Dividing by the variance makes
 * it independent of contrast and exposure; the fixed crop side makes it independent of the image's and the
 * recogniser's sizes (a face smaller than the crop is upsampled into it, and reads blurred, as the recogniser
 * sees it).
 */
export function sharpnessOf(crop: RgbImage): number {
  if (crop.width !== QUALITY_CROP || crop.height !== QUALITY_CROP) {
    throw new Error(
      `sharpnessOf: expected a ${QUALITY_CROP} x ${QUALITY_CROP} aligned crop, got ${crop.width} x ${crop.height}`,
    );
  }
  const w = crop.width;
  const grey = new Float32Array(w * crop.height);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = 0.299 * crop.data[3 * i] + 0.587 * crop.data[3 * i + 1] + 0.114 * crop.data[3 * i + 2];
  }
  let n = 0;
  let sg = 0;
  let sg2 = 0;
  let sl = 0;
  let sl2 = 0;
  for (let y = INNER.y0; y < INNER.y1; y++) {
    for (let x = INNER.x0; x < INNER.x1; x++) {
      const i = y * w + x;
      const g = grey[i];
      const lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * g;
      n++;
      sg += g;
      sg2 += g * g;
      sl += lap;
      sl2 += lap * lap;
    }
  }
  const varGrey = Math.max(0, sg2 / n - (sg / n) ** 2);
  const varLap = Math.max(0, sl2 / n - (sl / n) ** 2);
  return varLap / (varGrey + NOISE_FLOOR);
}

/**
 * The quality of `face`, given the 112-px ArcFace-template crop sharpness is measured on (see
 * {@link qualityCrop}); `face` in image pixels (its size is measured there).
 */
export function faceQuality(
  face: DetectedFace,
  crop: RgbImage,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): FaceQuality {
  const [le, re] = face.landmarks;
  return scoreQuality(
    {
      size: {
        interOcular: Math.hypot(re[0] - le[0], re[1] - le[1]),
        boxShortSide: Math.min(face.box.x2 - face.box.x1, face.box.y2 - face.box.y1),
      },
      sharpness: sharpnessOf(crop),
      ...poseOf(face.landmarks),
      detectorScore: face.score,
    },
    thresholds,
  );
}

/** A face's measures, before they are scored. */
export type QualityMeasures = Omit<FaceQuality, 'score' | 'factors'>;

/** Each measure's factor under `thresholds`, and their product as the score. */
export function scoreQuality(
  m: QualityMeasures,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): FaceQuality {
  const factors: Record<QualityMeasure, number> = {
    size: rampUp(m.size.interOcular, thresholds.interOcular),
    sharpness: rampUp(m.sharpness, thresholds.sharpness),
    yaw: rampAngle(m.yaw, thresholds.yaw),
    pitch: rampAngle(m.pitch, thresholds.pitch),
    detector: rampUp(m.detectorScore, thresholds.detector),
  };
  const score = Object.values(factors).reduce((p, f) => p * f, 1);
  return { ...m, score, factors };
}

/** The crop {@link faceQuality} measures sharpness on: `landmarks` (in `image` pixels) aligned to the 112-px template. */
export function qualityCrop(image: RgbImage, landmarks: Landmarks5): RgbImage {
  return alignFace(image, landmarks, QUALITY_CROP);
}

/** The quality of a face found in `image` (both in the same pixels). */
export function assessFace(
  image: RgbImage,
  face: DetectedFace,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): FaceQuality {
  return faceQuality(face, qualityCrop(image, face.landmarks), thresholds);
}

const fmt = (v: number, digits = 1): string => v.toFixed(digits);

/** The value of one measure that would bring its factor to `f`, for the message. */
function valueFor(measure: QualityMeasure, f: number, t: QualityThresholds): number {
  const up = (r: Ramp): number => r.zero + f * (r.full - r.zero);
  const angle = (r: Ramp): number => r.zero - f * (r.zero - r.full);
  switch (measure) {
    case 'size':
      return up(t.interOcular);
    case 'sharpness':
      return up(t.sharpness);
    case 'yaw':
      return angle(t.yaw);
    case 'pitch':
      return angle(t.pitch);
    case 'detector':
      return up(t.detector);
  }
}

/** What a measure falling short reads like: its value against the one it would need. */
function shortfallText(measure: QualityMeasure, q: FaceQuality, need: number | null): string {
  const needs = (op: string, v: string): string => (need === null ? '' : ` ${op} ${v}`);
  switch (measure) {
    case 'size':
      return `face too small: ${fmt(q.size.interOcular)} px inter-ocular${needs('<', `${fmt(need ?? 0)}`)}`;
    case 'sharpness':
      return `face blurred: sharpness ${fmt(q.sharpness, 3)}${needs('<', fmt(need ?? 0, 3))}`;
    case 'yaw':
      return `face turned sideways: yaw ${fmt(q.yaw)} deg${needs('beyond +-', fmt(need ?? 0))}`;
    case 'pitch':
      return `face tilted: pitch ${fmt(q.pitch)} deg${needs('beyond +-', fmt(need ?? 0))}`;
    case 'detector':
      return `detector unsure: score ${fmt(q.detectorScore, 3)}${needs('<', fmt(need ?? 0, 3))}`;
  }
}

/** Why a face is below a minimum quality. */
export interface QualityShortfall {
  /** The measures that pulled the score under the minimum, worst first. */
  readonly measures: readonly QualityMeasure[];
  /** E.g. "quality 0.31 < 0.50: face too small: 24.0 px inter-ocular < 33.6". */
  readonly message: string;
}

/**
 * Null when `q.score >= minQuality`; otherwise which measure failed. The worst factor is named with the value it
 * would need for the score to reach `minQuality` with the others unchanged; when no value of it alone would do,
 * every factor below 1 is named, worst first.
 * @throws when `minQuality` is not in [0, 1].
 */
export function qualityShortfall(
  q: FaceQuality,
  minQuality: number,
  thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS,
): QualityShortfall | null {
  checkMinQuality(minQuality);
  if (q.score >= minQuality) return null;
  const below = (Object.entries(q.factors) as [QualityMeasure, number][])
    .filter(([, f]) => f < 1)
    .sort((a, b) => a[1] - b[1]);
  const head = `quality ${q.score.toFixed(2)} < ${minQuality.toFixed(2)}`;
  const [worst] = below[0];
  const others = productWithout(q, worst);
  const needFactor = others > 0 ? minQuality / others : Infinity;
  if (needFactor <= 1) {
    const need = valueFor(worst, needFactor, thresholds);
    return { measures: [worst], message: `${head}: ${shortfallText(worst, q, need)}` };
  }
  return {
    measures: below.map(([m]) => m),
    message: `${head}: ${below.map(([m]) => shortfallText(m, q, null)).join('; ')}`,
  };
}

function productWithout(q: FaceQuality, measure: QualityMeasure): number {
  return (Object.entries(q.factors) as [QualityMeasure, number][])
    .filter(([m]) => m !== measure)
    .reduce((p, [, f]) => p * f, 1);
}

/** Throws unless `minQuality` is a number in [0, 1]. */
export function checkMinQuality(minQuality: number): void {
  if (!Number.isFinite(minQuality) || minQuality < 0 || minQuality > 1) {
    throw new RangeError(`minimum quality must be a number in [0, 1], got ${minQuality}`);
  }
}
