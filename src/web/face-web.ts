/**
 * The face pipeline of the web page: the library's own pipeline (src/face/pipeline.ts: letterbox,
 * BlazeFace decode, NMS, alignment, flip-embed) over sessions opened from the .onnx files that
 * face-models.ts writes. Nothing here is browser-only: Node opens the same files the same way, which is
 * how the tests check the page's models give the CLI's numbers.
 */
import { openFaceSession } from '../face/onnx-model.js';
import { blazeFaceDetector } from '../face/detect-blazeface.js';
import { importedFaceRecognizer } from '../face/embed-imported.js';
import {
  type ImportedDetectorName,
  type ImportedRecognizerName,
  importedDetectorModel,
  importedRecognizerModel,
} from '../face/models.js';
import { type FacePipeline, createFacePipeline } from '../face/pipeline.js';

/** The folder, next to the page, that holds the face files (the manifest and the .onnx files it names). */
export const FACE_MODELS_DIR = 'models';

/** The manifest the page reads first: which models, in which files. */
export const FACE_MANIFEST_FILE = 'face-models.json';

/** What `face-models.json` holds. */
export interface FaceModelManifest {
  readonly detector: { readonly spec: ImportedDetectorName; readonly file: string };
  /** `batch`: the recogniser graph's static batch (rows per call: 2 with flip, the crop and its mirror). */
  readonly recognizer: {
    readonly spec: ImportedRecognizerName;
    readonly file: string;
    readonly batch: number;
  };
}

/** A model file that failed to load, or a manifest that is not one; the message names the file. */
export class FaceModelError extends Error {
  override readonly name = 'FaceModelError';
}

function checkManifest(value: unknown): FaceModelManifest {
  const m = value as Partial<FaceModelManifest> | null;
  if (
    !m ||
    typeof m.detector?.spec !== 'string' ||
    typeof m.detector.file !== 'string' ||
    typeof m.recognizer?.spec !== 'string' ||
    typeof m.recognizer.file !== 'string' ||
    !Number.isInteger(m.recognizer.batch)
  ) {
    throw new FaceModelError(`${FACE_MANIFEST_FILE} is not a face model manifest`);
  }
  return m as FaceModelManifest;
}

export interface WebFacePipelineOptions {
  /** ONNX Runtime threads per session (default: all cores; in the page, what ort.env.wasm allows). */
  readonly threads?: number;
  /** Called as each file is fetched, for the page's status line. */
  readonly onLoading?: (file: string) => void;
}

/**
 * The default face pipeline (BlazeFace + face-api ResNet-34, the calibrated threshold) from the page's
 * model files.
 * @param fetchFile the bytes of a file next to the page, by name (the page: `fetch`; Node: `readFile`)
 * @throws {@link FaceModelError} naming the file that is missing or not what the manifest says
 */
export async function createWebFacePipeline(
  fetchFile: (name: string) => Promise<Uint8Array>,
  opts: WebFacePipelineOptions = {},
): Promise<{ pipeline: FacePipeline; manifest: FaceModelManifest }> {
  const get = async (name: string): Promise<Uint8Array> => {
    opts.onLoading?.(name);
    try {
      return await fetchFile(name);
    } catch (err) {
      throw new FaceModelError(`${name} did not load (${err instanceof Error ? err.message : String(err)})`, {
        cause: err,
      });
    }
  };
  let manifest: FaceModelManifest;
  try {
    manifest = checkManifest(JSON.parse(new TextDecoder().decode(await get(FACE_MANIFEST_FILE))));
  } catch (err) {
    if (err instanceof FaceModelError) throw err;
    throw new FaceModelError(`${FACE_MANIFEST_FILE} is not JSON`, { cause: err });
  }
  const session = { threads: opts.threads };
  const { detector: d, recognizer: r } = manifest;
  const detector = blazeFaceDetector(
    importedDetectorModel(d.spec),
    await openFaceSession(await get(d.file), session, d.file),
  );
  const recBytes = await get(r.file);
  const recognizer = importedFaceRecognizer(
    importedRecognizerModel(r.spec),
    (batch) => {
      if (batch !== r.batch) {
        throw new FaceModelError(`${r.file} takes batches of ${r.batch}, not ${batch}`);
      }
      return openFaceSession(recBytes, session, r.file);
    },
    { batchSize: r.batch },
  );
  const pipeline = await createFacePipeline({ models: { detector, recognizer } });
  return { pipeline, manifest };
}
