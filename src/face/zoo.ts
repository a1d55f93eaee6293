/**
 * The model zoo: `kind:PATH` specs resolved to loaded detectors and recognisers. A new kind (e.g. models
 * imported from TensorFlow.js) adds a loader to one of the tables and a member to its spec type.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DetectorOptions, loadScrfd } from './detect-scrfd.js';
import { loadYunet } from './detect-yunet.js';
import { type OnnxRecognizerOptions, loadOnnxRecognizer } from './embed-onnx.js';
import type { FaceDetector, FaceRecognizer } from './types.js';

/** A detector: `scrfd:PATH` (InsightFace SCRFD .onnx with landmarks) or `yunet:PATH` (YuNet .onnx). */
export type DetectorSpec = `scrfd:${string}` | `yunet:${string}`;
/** A recogniser: `onnx:PATH` (an ArcFace-style .onnx taking an aligned crop). */
export type RecognizerSpec = `onnx:${string}`;

type Loader<T, O> = (path: string, opts: O) => Promise<T>;

const DETECTORS: Readonly<Record<string, Loader<FaceDetector, DetectorOptions>>> = {
  scrfd: loadScrfd,
  yunet: loadYunet,
};
const RECOGNIZERS: Readonly<Record<string, Loader<FaceRecognizer, OnnxRecognizerOptions>>> = {
  onnx: loadOnnxRecognizer,
};

function split(spec: string, table: Readonly<Record<string, unknown>>, what: string): [string, string] {
  const i = spec.indexOf(':');
  const kind = i > 0 ? spec.slice(0, i) : '';
  const path = i > 0 ? spec.slice(i + 1) : '';
  if (!Object.hasOwn(table, kind) || path === '') {
    const kinds = Object.keys(table)
      .map((k) => `${k}:PATH`)
      .join(', ');
    throw new Error(`bad ${what} '${spec}': expected one of ${kinds}`);
  }
  return [kind, path];
}

/** Check a user-given string is a detector spec (throws, listing the accepted forms, when not). */
export function parseDetectorSpec(spec: string): DetectorSpec {
  split(spec, DETECTORS, 'detector');
  return spec as DetectorSpec;
}

/** Check a user-given string is a recogniser spec (throws, listing the accepted forms, when not). */
export function parseRecognizerSpec(spec: string): RecognizerSpec {
  split(spec, RECOGNIZERS, 'recognizer');
  return spec as RecognizerSpec;
}

/** Load the detector a spec names. */
export async function loadDetector(spec: DetectorSpec, opts: DetectorOptions = {}): Promise<FaceDetector> {
  const [kind, path] = split(spec, DETECTORS, 'detector');
  return DETECTORS[kind](path, opts);
}

/** Load the recogniser a spec names. */
export async function loadRecognizer(
  spec: RecognizerSpec,
  opts: OnnxRecognizerOptions = {},
): Promise<FaceRecognizer> {
  const [kind, path] = split(spec, RECOGNIZERS, 'recognizer');
  return RECOGNIZERS[kind](path, opts);
}

const SHARED_SCRFD = join('shared', 'data', 'models', 'scrfd', 'scrfd_500m.onnx');

/** Where the stop-gap default detector is looked for: `../shared/data/models` beside the project. */
export function defaultDetectorCandidates(): string[] {
  const found: string[] = [];
  // The project root is an ancestor of this file (src/face, or dist/src/face once built); ../shared sits beside it.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    found.push(join(dirname(dir), SHARED_SCRFD));
    dir = dirname(dir);
  }
  found.push(resolve('..', SHARED_SCRFD));
  return [...new Set(found)];
}

/**
 * The default detector until an npm-shipped one exists: SCRFD-500m from ../shared/data/models.
 * @throws when it is absent, saying which options to pass instead.
 */
export function defaultDetectorSpec(): DetectorSpec {
  const candidates = defaultDetectorCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (path) return `scrfd:${path}`;
  throw new Error(
    'no face detector available: pass a detector, e.g. ' +
      "detector: 'scrfd:/path/to/scrfd_500m.onnx' or 'yunet:/path/to/yunet_n_dynamic.onnx' " +
      `(CLI: --detector scrfd:PATH); looked for the default at ${candidates[0]}`,
  );
}
