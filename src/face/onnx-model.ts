/**
 * Face models' sessions: every detector and recogniser, imported graph or user-supplied ONNX file, opens
 * its session through {@link openFaceSession}, with the options a face pipeline needs. Errors name the file.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Session } from '../engine/session.js';

/** A loaded ONNX model and facts read from its file. */
export interface OnnxModel {
  readonly path: string;
  /** SHA-256 of the file, hex: identifies known models whatever their file name. */
  readonly sha256: string;
  readonly session: Session;
  /** Shape of each input by name; a string or negative entry is a dynamic dimension. */
  readonly inputShapes: ReadonlyMap<string, readonly (number | string)[]>;
}

/** Session options a face model takes. */
export interface FaceSessionOptions {
  /** Intra-op threads (default: all cores). */
  readonly threads?: number;
}

/**
 * Open a CPU session for a face model.
 * @param label names the model in errors (a path or spec)
 */
export function openFaceSession(
  bytes: Uint8Array,
  opts: FaceSessionOptions,
  label: string,
): Promise<Session> {
  return Session.create(
    bytes,
    {
      threads: opts.threads,
      device: 'cpu',
      // A pipeline runs a detector and a recogniser session in turn; spinning idle threads of one would take
      // the cores the other needs (2.6x slower per face on 2 cores with BlazeFace + ResNet-34, bench/face.ts).
      spinning: false,
      // Dynamic-input exports (SCRFD) record their 640x640 trace shapes; at other sizes ONNX Runtime warns on
      // every run although the outputs are right. Errors still surface.
      logLevel: 'error',
    },
    label,
  );
}

/** Load an ONNX file into a CPU session. Throws an Error naming the path when it is missing or not ONNX. */
export async function loadOnnxModel(path: string, opts: FaceSessionOptions = {}): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot read model ${path}: ${code === 'ENOENT' ? 'file not found' : (code ?? String(err))}`,
      { cause: err },
    );
  }
  let session: Session;
  try {
    session = await openFaceSession(bytes, opts, path);
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot load model ${path}: not a valid ONNX model (${why})`, { cause: err });
  }
  return {
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    session,
    inputShapes: session.inputShapes,
  };
}

/**
 * A model file whose inputs or outputs are not those of the role it was given (e.g. a detector passed as a
 * recogniser). The message names the file, what the role needs and the shapes the model has.
 */
export class ModelShapeError extends Error {
  override readonly name = 'ModelShapeError';
  constructor(
    /** The model file. */
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A shape as people write it: `[1,3,?,?]`, a dynamic dimension as its name or `?`. */
export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? String(d) : d === '' || typeof d === 'number' ? '?' : d)).join(',')}]`;
}

/** A dimension read from model metadata, or undefined when it is dynamic. */
export function fixedDim(d: number | string | undefined): number | undefined {
  return typeof d === 'number' && d > 0 ? d : undefined;
}
