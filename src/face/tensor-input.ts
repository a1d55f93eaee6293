/** Turning 8-bit RGB pixels into the float NCHW tensors that detectors and recognisers take. */
import type { RgbImage } from './types.js';

/** Per-model input convention: value = (pixel - mean) / std, channels in `order`. */
export interface PixelNormalization {
  readonly mean: number;
  readonly std: number;
  readonly order: 'rgb' | 'bgr';
}

/**
 * Write `image` as one CHW sample into `out` at sample `index` (float32, NCHW, `3 * H * W` per sample).
 * `flip` mirrors it left-right, for flip-augmented embeddings.
 */
export function writeChw(
  image: RgbImage,
  norm: PixelNormalization,
  out: Float32Array,
  index = 0,
  flip = false,
): void {
  const { width: w, height: h, data } = image;
  const plane = w * h;
  const base = index * 3 * plane;
  const scale = 1 / norm.std;
  // Channel c of the output reads source channel src[c]: RGB keeps the order, BGR reverses it.
  const src = norm.order === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  for (let c = 0; c < 3; c++) {
    const o = base + c * plane;
    const sc = src[c];
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < w; x++) {
        const sx = flip ? w - 1 - x : x;
        out[o + row + x] = (data[(row + sx) * 3 + sc] - norm.mean) * scale;
      }
    }
  }
}

/** NHWC variant of {@link writeChw}, for the few models exported channels-last. */
export function writeHwc(
  image: RgbImage,
  norm: PixelNormalization,
  out: Float32Array,
  index = 0,
  flip = false,
): void {
  const { width: w, height: h, data } = image;
  const base = index * 3 * w * h;
  const scale = 1 / norm.std;
  const src = norm.order === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = flip ? w - 1 - x : x;
      const i = (y * w + sx) * 3;
      const o = base + (y * w + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = (data[i + src[c]] - norm.mean) * scale;
    }
  }
}
