/**
 * YuNet face detectors (libfacedetection.train ONNX files, fixed or dynamic input): letterbox, one session
 * run, one prior per cell at strides 8/16/32, NMS.
 */
import type { SessionOutput } from '../engine/session.js';
import { type DetectorOptions, detectorInputSize, letterboxDetector } from './letterbox-detector.js';
import { loadOnnxModel } from './onnx-model.js';
import type { PixelNormalization } from './tensor-input.js';
import type { DetectedFace, FaceDetector, Landmarks5, Point } from './types.js';

// YuNet was trained on OpenCV's BGR frames, unnormalised.
const NORM: PixelNormalization = { mean: 0, std: 1, order: 'bgr' };
const STRIDES = [8, 16, 32] as const;

function output(outputs: Readonly<Record<string, SessionOutput>>, name: string, path: string): Float32Array {
  const t = outputs[name];
  if (!t) throw new Error(`${path}: not a YuNet model (no output '${name}')`);
  return t.data as Float32Array;
}

/**
 * Load a YuNet detector from an ONNX file.
 * @param path the .onnx file (input BGR 0..255, NCHW; outputs cls/obj/bbox/kps per stride).
 */
export async function loadYunet(path: string, opts: DetectorOptions = {}): Promise<FaceDetector> {
  const model = await loadOnnxModel(path, opts);
  const names = new Set(model.session.outputNames);
  const missing = STRIDES.flatMap((s) => ['cls', 'obj', 'bbox', 'kps'].map((k) => `${k}_${s}`)).filter(
    (n) => !names.has(n),
  );
  if (missing.length > 0) {
    await model.session.dispose();
    throw new Error(`${path}: not a YuNet model (missing outputs ${missing.join(', ')})`);
  }
  const inputName = model.session.inputNames[0];
  const [width, height] = detectorInputSize(model.inputShapes.get(inputName), opts.inputSize);
  const scoreThreshold = opts.scoreThreshold ?? 0.6;
  return letterboxDetector({
    spec: `yunet:${path}`,
    session: model.session,
    inputName,
    width,
    height,
    normalization: NORM,
    nmsThreshold: opts.nmsThreshold ?? 0.3,
    decode(outputs) {
      const found: DetectedFace[] = [];
      for (const s of STRIDES) {
        const cls = output(outputs, `cls_${s}`, path);
        const obj = output(outputs, `obj_${s}`, path);
        const bbox = output(outputs, `bbox_${s}`, path);
        const kps = output(outputs, `kps_${s}`, path);
        const cols = Math.ceil(width / s);
        for (let i = 0; i < cls.length; i++) {
          // The exported graph ends in sigmoids; clamp guards the product against tiny negative rounding.
          const score = Math.sqrt(Math.max(0, cls[i] * obj[i]));
          if (score < scoreThreshold) continue;
          const gx = i % cols;
          const gy = Math.floor(i / cols);
          const cx = (gx + bbox[i * 4]) * s;
          const cy = (gy + bbox[i * 4 + 1]) * s;
          const w = Math.exp(bbox[i * 4 + 2]) * s;
          const h = Math.exp(bbox[i * 4 + 3]) * s;
          const p = (j: number): Point => [
            (kps[i * 10 + 2 * j] + gx) * s,
            (kps[i * 10 + 2 * j + 1] + gy) * s,
          ];
          const landmarks: Landmarks5 = [p(0), p(1), p(2), p(3), p(4)];
          found.push({
            box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 },
            score,
            landmarks,
          });
        }
      }
      return found;
    },
  });
}
