/**
 * The loop every single-shot detector shares: letterbox the image into the model's input, write it as a
 * normalised NCHW tensor, run the session, decode the model's outputs into faces (the one model-specific
 * step), suppress overlaps, and map the faces back to the image's pixels. SCRFD, YuNet and BlazeFace are
 * this loop with their own decoder.
 */
import type { Session, SessionOutput } from '../engine/session.js';
import { letterbox, unletterbox } from './letterbox.js';
import { nms } from './nms.js';
import { type FaceSessionOptions, fixedDim } from './onnx-model.js';
import { type PixelNormalization, writeChw } from './tensor-input.js';
import type { DetectedFace, FaceDetector, RgbImage } from './types.js';

/** Options shared by the detectors. */
export interface DetectorOptions extends FaceSessionOptions {
  /**
   * Detector input in pixels, `[width, height]` or one number for a square; rounded up to a multiple of 32.
   * Ignored for models with a fixed input size. Default 640, InsightFace's `det_size`.
   */
  readonly inputSize?: number | readonly [number, number];
  /** Minimum face score kept, in [0, 1]. */
  readonly scoreThreshold?: number;
  /** IoU above which the lower-scoring of two boxes is dropped. */
  readonly nmsThreshold?: number;
}

/** Input size for a model: its fixed size if it has one, otherwise the requested size rounded up to /32. */
export function detectorInputSize(
  shape: readonly (number | string)[] | undefined,
  requested: DetectorOptions['inputSize'],
): [number, number] {
  const fh = fixedDim(shape?.[2]);
  const fw = fixedDim(shape?.[3]);
  if (fh !== undefined && fw !== undefined) return [fw, fh];
  const [w, h] = typeof requested === 'number' ? [requested, requested] : (requested ?? [640, 640]);
  const up = (v: number): number => Math.max(32, Math.ceil(v / 32) * 32);
  return [up(w), up(h)];
}

/** What a detector brings to the loop. */
export interface LetterboxDetectorParts {
  /** The spec it was loaded from, e.g. `scrfd:/models/scrfd_500m.onnx`. */
  readonly spec: string;
  readonly session: Session;
  /** The session's image input. */
  readonly inputName: string;
  /** Model input in pixels. */
  readonly width: number;
  readonly height: number;
  readonly normalization: PixelNormalization;
  /** IoU above which the lower-scoring of two faces is dropped. */
  readonly nmsThreshold: number;
  /**
   * Faces above the score threshold, in model-input pixels, in any order (suppression comes after).
   * @param outputs every output of one run, by name
   */
  decode(outputs: Readonly<Record<string, SessionOutput>>): DetectedFace[];
}

/** A {@link FaceDetector} running the letterbox → tensor → run → decode → NMS → un-letterbox loop. */
export function letterboxDetector(parts: LetterboxDetectorParts): FaceDetector {
  const { session, inputName, width, height, normalization } = parts;
  return {
    spec: parts.spec,
    inputSize: { width, height },
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      const lb = await letterbox(image, width, height);
      // A fresh buffer per call: overlapping calls must not share an input that a pending run still reads.
      const input = new Float32Array(3 * width * height);
      writeChw(lb.image, normalization, input);
      const outputs = await session.run({ [inputName]: { data: input, dims: [1, 3, height, width] } });
      return nms(parts.decode(outputs), parts.nmsThreshold).map((f) => unletterbox(f, lb));
    },
    dispose: () => session.dispose(),
  };
}
