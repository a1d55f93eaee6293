/**
 * Training augmentation beyond the flip: a random square crop resized back to the sample size, and colour
 * jitter (brightness, contrast, saturation). Each sample's parameters are drawn on the main thread from a
 * seeded stream, by the sample's position in the epoch, so a batch is the same bytes whichever worker
 * prepares it; the pixels are transformed in the worker, in the same pass that normalises them.
 */
import type { SampleSpec } from './image-sample.js';
import { Stream, mixSeed } from './shuffle.js';
import { seededRandom } from '../util/random.js';

/** How strongly to augment. Every field off (the default) leaves samples as decoded. */
export interface Augmentation {
  /**
   * Smallest crop side as a share of the sample's side, in (0, 1]: each sample is cut to a square of a side
   * drawn uniformly in [cropScale, 1] x side, at a uniform position, and resized back (bilinear). 1 = off.
   */
  readonly cropScale?: number;
  /** Brightness factor drawn in [1 - b, 1 + b], b in [0, 1). 0 = off. */
  readonly brightness?: number;
  /** Contrast factor in [1 - c, 1 + c] around the sample's mean grey. 0 = off. */
  readonly contrast?: number;
  /** Saturation factor in [1 - s, 1 + s] around each pixel's grey. 0 = off. */
  readonly saturation?: number;
}

/** One sample's drawn augmentation. Crop in sample pixels (top-left corner and side). */
export interface SampleAugment {
  readonly cropX: number;
  readonly cropY: number;
  /** Crop side in sample pixels (a square of the short side times the drawn scale). */
  readonly cropSide: number;
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
}

/** Check an {@link Augmentation}; throws naming the bad field. */
export function checkAugmentation(a: Augmentation): void {
  const crop = a.cropScale ?? 1;
  if (!(crop > 0 && crop <= 1)) throw new Error(`augmentation: cropScale must be in (0, 1], got ${crop}`);
  for (const k of ['brightness', 'contrast', 'saturation'] as const) {
    const v = a[k] ?? 0;
    if (!(v >= 0 && v < 1)) throw new Error(`augmentation: ${k} must be in [0, 1), got ${v}`);
  }
}

/** Whether an augmentation changes anything. */
export function augments(a: Augmentation | undefined): boolean {
  return !!a && ((a.cropScale ?? 1) < 1 || !!a.brightness || !!a.contrast || !!a.saturation);
}

/**
 * Draw the augmentation of every sample of one epoch, by position in the epoch's order: a pure function of
 * (seed, epoch), independent of the flips (their own stream) and of which thread prepares each batch.
 * @param n samples in the epoch
 * @param height, width sample size in pixels
 */
export function drawAugments(
  n: number,
  seed: number,
  epoch: number,
  a: Augmentation,
  height: number,
  width: number,
): SampleAugment[] {
  const rand = seededRandom(mixSeed(seed, epoch, Stream.augment));
  const short = Math.min(height, width);
  const lo = a.cropScale ?? 1;
  const factor = (j: number | undefined, u: number): number => 1 + (j ?? 0) * (2 * u - 1);
  const out: SampleAugment[] = new Array<SampleAugment>(n);
  for (let i = 0; i < n; i++) {
    // Always six draws per sample, so turning one kind off leaves the others' draws unchanged.
    const [u0, u1, u2, u3, u4, u5] = [rand(), rand(), rand(), rand(), rand(), rand()];
    const side = lo < 1 ? Math.max(1, Math.round(short * (lo + (1 - lo) * u0))) : short;
    out[i] = {
      cropSide: side,
      cropX: Math.floor(u1 * (width - side + 1)),
      cropY: Math.floor(u2 * (height - side + 1)),
      brightness: factor(a.brightness, u3),
      contrast: factor(a.contrast, u4),
      saturation: factor(a.saturation, u5),
    };
  }
  return out;
}

/**
 * Write one uint8 [C, H, W] sample into `out` at `offset`: cropped and resized (bilinear), colour-jittered,
 * mirrored when `flip`, then normalised as (x - mean) / std. Pixel values stay in 0..255 before the
 * normalisation (clamped after the jitter).
 */
export function writeAugmentedSample(
  pixels: Uint8Array,
  out: Float32Array,
  offset: number,
  spec: SampleSpec,
  flip: boolean,
  aug: SampleAugment,
): void {
  const { channels, height, width } = spec;
  const plane = height * width;
  const rgb = new Float32Array(channels * plane);
  // Crop + resize: output pixel centres mapped into the crop window, sampled bilinearly.
  const sx = aug.cropSide / width;
  const sy = aug.cropSide / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(height - 1, Math.max(0, aug.cropY + (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(width - 1, Math.max(0, aug.cropX + (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(width - 1, x0 + 1);
      const wx = fx - x0;
      const dst = y * width + (flip ? width - 1 - x : x);
      for (let c = 0; c < channels; c++) {
        const p = c * plane;
        const top = pixels[p + y0 * width + x0] * (1 - wx) + pixels[p + y0 * width + x1] * wx;
        const bottom = pixels[p + y1 * width + x0] * (1 - wx) + pixels[p + y1 * width + x1] * wx;
        rgb[p + dst] = (top * (1 - wy) + bottom * wy) * aug.brightness;
      }
    }
  }
  // Grey per pixel (ITU-R 601 luma for RGB), for saturation; its mean, for contrast.
  const grey = new Float32Array(plane);
  let meanGrey = 0;
  for (let i = 0; i < plane; i++) {
    const g = channels === 3 ? 0.299 * rgb[i] + 0.587 * rgb[plane + i] + 0.114 * rgb[2 * plane + i] : rgb[i];
    grey[i] = g;
    meanGrey += g;
  }
  meanGrey /= plane;
  for (let c = 0; c < channels; c++) {
    const mean = spec.mean.length === 1 ? spec.mean[0] : spec.mean[c];
    const inv = 1 / (spec.std.length === 1 ? spec.std[0] : spec.std[c]);
    const p = c * plane;
    for (let i = 0; i < plane; i++) {
      let v = channels === 3 ? grey[i] + (rgb[p + i] - grey[i]) * aug.saturation : rgb[p + i];
      v = meanGrey + (v - meanGrey) * aug.contrast;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      out[offset + p + i] = (v - mean) * inv;
    }
  }
}
