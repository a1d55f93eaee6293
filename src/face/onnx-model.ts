/**
 * Loading a user-supplied ONNX file (detector or recogniser) into an ONNX Runtime session, with errors that
 * name the file. Imported models run on their own sessions: the engine's runtime is for graphs we build.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';

/** A loaded ONNX model and facts read from its file. */
export interface OnnxModel {
  readonly path: string;
  /** SHA-256 of the file, hex: identifies known models whatever their file name. */
  readonly sha256: string;
  readonly session: ort.InferenceSession;
  /** Shape of each input by name; a string or negative entry is a dynamic dimension. */
  readonly inputShapes: ReadonlyMap<string, readonly (number | string)[]>;
}

export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  readonly threads?: number;
}

/** Load an ONNX file into a CPU session. Throws an Error naming the path when it is missing or not ONNX. */
export async function loadOnnxModel(path: string, opts: SessionOptions = {}): Promise<OnnxModel> {
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
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      // A pipeline runs a detector and a recogniser session in turn; spinning idle threads of one would take
      // the cores the other needs (2.6x slower per face on 2 cores with BlazeFace + ResNet-34, bench/face.ts).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      // Dynamic-input exports (SCRFD) record their 640x640 trace shapes; at other sizes ONNX Runtime warns on
      // every run although the outputs are right. Errors still surface.
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new Error(
      `cannot load model ${path}: not a valid ONNX model (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
  const inputShapes = new Map<string, readonly (number | string)[]>();
  for (const meta of session.inputMetadata) {
    if (meta.isTensor) inputShapes.set(meta.name, meta.shape);
  }
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), session, inputShapes };
}

/** A dimension read from model metadata, or undefined when it is dynamic. */
export function fixedDim(d: number | string | undefined): number | undefined {
  return typeof d === 'number' && d > 0 ? d : undefined;
}
