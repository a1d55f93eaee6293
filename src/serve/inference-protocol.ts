/** Messages between the service's main thread and its inference workers (structured-clone safe). */
import type { Detection, FaceEmbedding } from '../face/pipeline.js';
import type { VerifyCalibration } from '../face/index.js';

/** How each worker builds its face pipeline (a serialisable subset of FacePipelineOptions). */
export interface WorkerPipelineOptions {
  /** Detector spec (default: the zoo's default). */
  readonly detector?: string;
  /** Recogniser spec (default: the zoo's default). */
  readonly recognizer?: string;
  /** ONNX Runtime intra-op threads per session in each worker. */
  readonly threads: number;
  /** Decoded pixels allowed per image (width x height). */
  readonly maxPixels: number;
  /** Smallest face searched for in large images, pixels (default: the pipeline's). */
  readonly minFaceSize?: number;
}

/** What the loaded models are, reported once by each worker. */
export interface ModelInfo {
  readonly detector: string;
  readonly recognizer: string;
  /** The id the gallery stores this recogniser's faces under (the spec, or a file hash for ONNX files). */
  readonly galleryId: string;
  /** Embedding length. */
  readonly dim: number;
  /** The recogniser's calibrated same-person threshold (cosine), when known. */
  readonly threshold: number | null;
  readonly calibration: VerifyCalibration | null;
}

export type InferenceOp = 'detect' | 'embed';

export interface InferenceRequest {
  readonly id: number;
  readonly op: InferenceOp;
  /** Encoded image bytes. */
  readonly image: Uint8Array;
}

/** An error raised in a worker, carried by name and fields (Error subclasses do not survive cloning). */
export interface WorkerError {
  readonly name: string;
  readonly message: string;
  /** ImageError's code, when it is one. */
  readonly code?: string;
}

export type InferenceResult = { readonly op: 'detect'; readonly detection: Detection } | EmbedResult;

export interface EmbedResult {
  readonly op: 'embed';
  readonly embedding: FaceEmbedding;
}

export type WorkerMessage =
  | { readonly kind: 'ready'; readonly models: ModelInfo }
  | { readonly kind: 'fatal'; readonly error: WorkerError }
  | { readonly kind: 'result'; readonly id: number; readonly result: InferenceResult }
  | { readonly kind: 'error'; readonly id: number; readonly error: WorkerError };
