/**
 * The face models the web page runs, as the files it fetches: the default detector and recogniser built
 * by the same importer as in Node (src/face/imported-graphs.ts) and lowered to ONNX, plus a small
 * manifest naming them. `arcface web --out DIR` writes them next to the page; `arcface serve` serves them.
 */
import { loadImportedDetector, loadImportedRecognizer } from '../face/imported-graphs.js';
import { importedDetectorModel, importedRecognizerModel } from '../face/models.js';
import { DEFAULT_DETECTOR, DEFAULT_RECOGNIZER } from '../face/zoo.js';
import { FACE_MANIFEST_FILE, type FaceModelManifest } from './face-web.js';

/** The page's face files by name: the manifest and the .onnx files it names. */
export async function faceModelFiles(): Promise<Map<string, Uint8Array>> {
  const detectorSpec = DEFAULT_DETECTOR;
  const recognizerSpec = DEFAULT_RECOGNIZER;
  if (!detectorSpec.startsWith('blazeface:') || recognizerSpec.startsWith('onnx:')) {
    throw new Error(`the page runs npm-shipped models; the defaults are ${detectorSpec}, ${recognizerSpec}`);
  }
  const model = importedRecognizerModel(recognizerSpec);
  const detectorModel = importedDetectorModel(detectorSpec);
  // The page embeds one photo at a time: one crop, two rows with its mirror image. Node's pipeline runs
  // the same batch for one image, so both sides run the same graph.
  const batch = model.flip ? 2 : 1;
  const fileOf = (spec: string, suffix = ''): string => `${spec.replace(/[^a-z0-9]+/gi, '-')}${suffix}.onnx`;
  const manifest: FaceModelManifest = {
    detector: { spec: detectorModel.spec, file: fileOf(detectorSpec) },
    recognizer: { spec: model.spec, file: fileOf(recognizerSpec, `-b${batch}`), batch },
  };
  const detector = await loadImportedDetector(detectorSpec);
  const recognizer = await loadImportedRecognizer(recognizerSpec);
  return new Map<string, Uint8Array>([
    [FACE_MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)],
    [manifest.detector.file, detector.onnx()],
    [manifest.recognizer.file, recognizer.onnx(batch)],
  ]);
}
