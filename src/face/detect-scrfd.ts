/**
 * InsightFace SCRFD face detectors (ONNX files with 5-point landmarks, e.g. scrfd_500m, scrfd_2.5g_bnkps,
 * buffalo_l's det_10g): letterbox, one session run, anchor-free decoding per stride, NMS.
 */
import type { SessionOutput } from '../engine/session.js';
import { type DetectorOptions, detectorInputSize, letterboxDetector } from './letterbox-detector.js';
import { loadOnnxModel } from './onnx-model.js';
import type { PixelNormalization } from './tensor-input.js';
import type { DetectedFace, FaceDetector, Landmarks5, Point } from './types.js';

const NORM: PixelNormalization = { mean: 127.5, std: 128, order: 'rgb' };

interface Level {
  readonly stride: number;
  readonly scores: Float32Array;
  readonly boxes: Float32Array;
  readonly kps: Float32Array;
}

/** Pair the nine outputs by kind (last dim 1 / 4 / 10) and by level (most rows = finest stride). */
function levels(outputs: Readonly<Record<string, SessionOutput>>, path: string): Level[] {
  const byKind = new Map<number, { rows: number; data: Float32Array }[]>();
  for (const t of Object.values(outputs)) {
    const last = t.dims[t.dims.length - 1];
    const rows = t.dims.slice(0, -1).reduce((a, b) => a * b, 1);
    const list = byKind.get(last) ?? [];
    list.push({ rows, data: t.data as Float32Array });
    byKind.set(last, list);
  }
  const scores = byKind.get(1) ?? [];
  const boxes = byKind.get(4) ?? [];
  const kps = byKind.get(10) ?? [];
  if (scores.length === 0 || scores.length !== boxes.length || scores.length !== kps.length) {
    throw new Error(
      `${path}: not an SCRFD model with landmarks (expected score/bbox/kps outputs per stride, ` +
        `got last dims ${[...byKind.keys()].join(', ')})`,
    );
  }
  const strides = scores.length === 3 ? [8, 16, 32] : scores.length === 5 ? [8, 16, 32, 64, 128] : undefined;
  if (!strides) throw new Error(`${path}: unexpected number of SCRFD levels (${scores.length})`);
  const desc = (a: { rows: number }, b: { rows: number }): number => b.rows - a.rows;
  [scores, boxes, kps].forEach((l) => l.sort(desc));
  return strides.map((stride, i) => ({
    stride,
    scores: scores[i].data,
    boxes: boxes[i].data,
    kps: kps[i].data,
  }));
}

/**
 * Decode one level: every cell holds `anchors` anchors centred at (col, row) * stride; boxes are distances
 * to the four sides and landmarks offsets from the centre, both in units of the stride.
 */
function decodeLevel(
  level: Level,
  width: number,
  height: number,
  threshold: number,
  out: DetectedFace[],
): void {
  const { stride: s, scores, boxes, kps } = level;
  const cols = Math.ceil(width / s);
  const cells = cols * Math.ceil(height / s);
  const anchors = scores.length / cells;
  if (!Number.isInteger(anchors) || anchors < 1) {
    throw new Error(`SCRFD stride ${s}: ${scores.length} scores do not fit a ${width}x${height} input`);
  }
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i];
    if (score < threshold) continue;
    const cell = Math.floor(i / anchors);
    const cx = (cell % cols) * s;
    const cy = Math.floor(cell / cols) * s;
    const b = i * 4;
    const k = i * 10;
    const p = (j: number): Point => [cx + kps[k + 2 * j] * s, cy + kps[k + 2 * j + 1] * s];
    const landmarks: Landmarks5 = [p(0), p(1), p(2), p(3), p(4)];
    out.push({
      box: {
        x1: cx - boxes[b] * s,
        y1: cy - boxes[b + 1] * s,
        x2: cx + boxes[b + 2] * s,
        y2: cy + boxes[b + 3] * s,
      },
      score,
      landmarks,
    });
  }
}

/**
 * Load an SCRFD detector from an ONNX file.
 * @param path the .onnx file (input RGB (x - 127.5) / 128, NCHW; 9 outputs: score, bbox, kps per stride).
 */
export async function loadScrfd(path: string, opts: DetectorOptions = {}): Promise<FaceDetector> {
  const model = await loadOnnxModel(path, opts);
  const outputs = model.session.outputNames.length;
  if (outputs !== 9 && outputs !== 15) {
    await model.session.dispose();
    throw new Error(
      `${path}: not an SCRFD model with landmarks (expected 9 or 15 outputs: score, bbox and kps per stride; ` +
        `got ${outputs})`,
    );
  }
  const inputName = model.session.inputNames[0];
  const [width, height] = detectorInputSize(model.inputShapes.get(inputName), opts.inputSize);
  const scoreThreshold = opts.scoreThreshold ?? 0.5;
  return letterboxDetector({
    spec: `scrfd:${path}`,
    session: model.session,
    inputName,
    width,
    height,
    normalization: NORM,
    nmsThreshold: opts.nmsThreshold ?? 0.4,
    decode(outputs) {
      const found: DetectedFace[] = [];
      for (const level of levels(outputs, path)) decodeLevel(level, width, height, scoreThreshold, found);
      return found;
    },
  });
}
