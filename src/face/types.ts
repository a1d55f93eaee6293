/** The shapes that flow between the face rooms: decoded images, detections, detectors and recognisers. */
import type { VerifyCalibration } from './models.js';

/** A decoded image: 8-bit RGB, row-major, interleaved (HWC), `data.length === width * height * 3`. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A point in image pixels: x to the right, y down, (0, 0) the centre of the top-left pixel. */
export type Point = readonly [x: number, y: number];

/**
 * Five landmarks in the ArcFace template's order, as seen in the image: the eye on the image's left,
 * the eye on the image's right, the nose tip, the mouth corner on the left, the mouth corner on the right.
 */
export type Landmarks5 = readonly [Point, Point, Point, Point, Point];

/** An axis-aligned box in image pixels (x1 <= x2, y1 <= y2). */
export interface Box {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** One detected face, in the original image's pixel coordinates (after EXIF rotation). */
export interface DetectedFace {
  readonly box: Box;
  /** Detector confidence in [0, 1]. */
  readonly score: number;
  readonly landmarks: Landmarks5;
}

/** A face detector: any image size in, faces sorted by descending score out. */
export interface FaceDetector {
  /** The spec it was loaded from, e.g. `scrfd:/models/scrfd_500m.onnx`. */
  readonly spec: string;
  /**
   * The model's input in pixels, which `detect` letterboxes the whole image into. Absent when unknown;
   * the tiling wrapper (detect-tiled.ts) then passes images through untiled.
   */
  readonly inputSize?: { readonly width: number; readonly height: number };
  detect(image: RgbImage): Promise<DetectedFace[]>;
  dispose(): Promise<void>;
}

/** A face recogniser: aligned crops of `inputSize` in, L2-normalised embeddings out. */
export interface FaceRecognizer {
  /** The spec it was loaded from, e.g. `onnx:/models/w600k_r50.onnx`. */
  readonly spec: string;
  /** Embedding length. */
  readonly dim: number;
  /** Crop size the model takes, in pixels (112 x 112 for ArcFace models). */
  readonly inputSize: { readonly width: number; readonly height: number };
  /**
   * Where the five landmarks must land in the crop, in crop pixels (`inputSize.width` square). Absent:
   * ArcFace's template scaled to the crop. Models trained on other crops (dlib's, Human's) lose points
   * on LFW when fed ArcFace crops, so each carries its own.
   */
  readonly template?: Landmarks5;
  /** True when `embed` sums the crop's and its mirror image's outputs before normalising. */
  readonly flip?: boolean;
  /** A cosine-similarity threshold measured for this model, when the zoo knows one. */
  readonly threshold?: number;
  /** Where the zoo's threshold comes from and the FAR / TAR it gives on LFW (absent when overridden). */
  readonly calibration?: VerifyCalibration;
  /** Human-readable facts about the model (name, terms of use), when the zoo knows them. */
  readonly description?: string;
  /** Embed crops of exactly `inputSize`; one unit-length vector per crop, in order. */
  embed(crops: readonly RgbImage[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
