/**
 * The face pipeline's platform pixel operations in plain TypeScript, for the web page: the bundle
 * (scripts/build-web.mjs) resolves `./image-ops.js` to this module, so it has the same exports as
 * image-ops.ts (sharp). Where the page must give the numbers Node gives, it reproduces libvips exactly:
 *
 * - upscaling with the linear kernel (the detectors' letterbox of a small image, e.g. LFW's 250 px into
 *   BlazeFace's 256) is libvips' affine with its bilinear interpolator: output pixel `u` reads the input at
 *   `u / scale - 0.5`, edges replicated, weights in 12-bit fixed point, rounded; test/web/image-ops-portable
 *   checks it equals sharp byte for byte;
 * - padding with replicated edges and dropping an opaque alpha channel are exact.
 *
 * Downscaling (large photos, webcam frames) and lanczos3 are separable filters of the same kernels with
 * libvips' centre convention, not libvips' exact reduce: pixels differ by a few levels, so faces on such
 * images match Node's to a looser tolerance (docs/WEB.md).
 */
import type { RgbImage } from './types.js';

/** Resampling kernel: `'linear'` (bilinear, the detectors' letterbox) or `'lanczos3'` (sharp's default). */
export type ResizeKernel = 'linear' | 'lanczos3';

const SHIFT = 12;
const ONE = 1 << SHIFT;

/** libvips' bilinear upscale (both axes growing or unchanged), byte-exact. */
function upscaleLinear(image: RgbImage, width: number, height: number): RgbImage {
  const { data: src, width: sw, height: sh } = image;
  const out = new Uint8Array(width * height * 3);
  const kx = sw / width;
  const ky = sh / height;
  const clampX = (x: number): number => (x < 0 ? 0 : x >= sw ? sw - 1 : x);
  const clampY = (y: number): number => (y < 0 ? 0 : y >= sh ? sh - 1 : y);
  for (let v = 0; v < height; v++) {
    const y = v * ky - 0.5;
    const y0 = Math.floor(y);
    const fy = Math.trunc((y - y0) * ONE);
    const r0 = clampY(y0) * sw;
    const r1 = clampY(y0 + 1) * sw;
    for (let u = 0; u < width; u++) {
      const x = u * kx - 0.5;
      const x0 = Math.floor(x);
      const fx = Math.trunc((x - x0) * ONE);
      const yd = ONE - fy;
      const c4 = (fy * fx) >> SHIFT;
      const c2 = (yd * fx) >> SHIFT;
      const c3 = fy - c4;
      const c1 = yd - c2;
      const a = (r0 + clampX(x0)) * 3;
      const b = (r0 + clampX(x0 + 1)) * 3;
      const c = (r1 + clampX(x0)) * 3;
      const d = (r1 + clampX(x0 + 1)) * 3;
      const o = (v * width + u) * 3;
      for (let k = 0; k < 3; k++) {
        out[o + k] =
          (c1 * src[a + k] + c2 * src[b + k] + c3 * src[c + k] + c4 * src[d + k] + (ONE >> 1)) >> SHIFT;
      }
    }
  }
  return { data: out, width, height };
}

const sinc = (x: number): number => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const KERNELS: Readonly<Record<ResizeKernel, { radius: number; f: (x: number) => number }>> = {
  linear: { radius: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  lanczos3: { radius: 3, f: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Per output index: the first input index and the normalised weights (edges replicated). */
function taps(
  inSize: number,
  outSize: number,
  kernel: ResizeKernel,
): { start: Int32Array; w: Float64Array[] } {
  const { radius, f } = KERNELS[kernel];
  const ratio = inSize / outSize;
  const stretch = Math.max(1, ratio);
  const start = new Int32Array(outSize);
  const w: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * ratio - 0.5;
    const first = Math.ceil(centre - radius * stretch);
    const last = Math.floor(centre + radius * stretch);
    const ws = new Float64Array(last - first + 1);
    let sum = 0;
    for (let i = first; i <= last; i++) sum += ws[i - first] = f((i - centre) / stretch);
    for (let i = 0; i < ws.length; i++) ws[i] /= sum;
    start[o] = first;
    w.push(ws);
  }
  return { start, w };
}

/** Separable resampling with `kernel`, widened by the shrink factor when downscaling. */
function resample(image: RgbImage, width: number, height: number, kernel: ResizeKernel): RgbImage {
  const { data: src, width: sw, height: sh } = image;
  const hx = taps(sw, width, kernel);
  const hy = taps(sh, height, kernel);
  const mid = new Float64Array(sh * width * 3);
  for (let y = 0; y < sh; y++) {
    for (let u = 0; u < width; u++) {
      const ws = hx.w[u];
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < ws.length; k++) {
        const x = Math.min(sw - 1, Math.max(0, hx.start[u] + k));
        const i = (y * sw + x) * 3;
        r += ws[k] * src[i];
        g += ws[k] * src[i + 1];
        b += ws[k] * src[i + 2];
      }
      const o = (y * width + u) * 3;
      mid[o] = r;
      mid[o + 1] = g;
      mid[o + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let v = 0; v < height; v++) {
    const ws = hy.w[v];
    for (let u = 0; u < width; u++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < ws.length; k++) {
          const y = Math.min(sh - 1, Math.max(0, hy.start[v] + k));
          s += ws[k] * mid[(y * width + u) * 3 + c];
        }
        out[(v * width + u) * 3 + c] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return { data: out, width, height };
}

/** `image` resized to exactly `width x height` pixels (aspect not kept). */
export function resizeRgb(
  image: RgbImage,
  width: number,
  height: number,
  kernel: ResizeKernel,
): Promise<RgbImage> {
  if (width === image.width && height === image.height) {
    return Promise.resolve({ data: image.data.slice(), width, height });
  }
  const up = width >= image.width && height >= image.height;
  return Promise.resolve(
    up && kernel === 'linear' ? upscaleLinear(image, width, height) : resample(image, width, height, kernel),
  );
}

/** `image` centred on a canvas grown by `margin` pixels on every side, edges replicated outwards. */
export function extendRgb(image: RgbImage, margin: number): Promise<RgbImage> {
  const { data: src, width: sw, height: sh } = image;
  const width = sw + 2 * margin;
  const height = sh + 2 * margin;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(sh - 1, Math.max(0, y - margin));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(sw - 1, Math.max(0, x - margin));
      const i = (sy * sw + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = src[i];
      out[o + 1] = src[i + 1];
      out[o + 2] = src[i + 2];
    }
  }
  return Promise.resolve({ data: out, width, height });
}

/** The centre of `image` covering `width x height` (aspect kept, the excess cropped), lanczos3. */
export async function coverRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const scale = Math.max(width / image.width, height / image.height);
  const rw = Math.max(width, Math.round(image.width * scale));
  const rh = Math.max(height, Math.round(image.height * scale));
  const resized = await resizeRgb(image, rw, rh, 'lanczos3');
  const left = Math.round((rw - width) / 2);
  const top = Math.round((rh - height) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const i = ((top + y) * rw + left) * 3;
    out.set(resized.data.subarray(i, i + width * 3), y * width * 3);
  }
  return { data: out, width, height };
}

/**
 * Raw 8-bit pixels (grey, RGB or RGBA, already checked against their size) as RGB, alpha composited onto
 * `background` (exact for opaque pixels; a canvas' `ImageData` of a photo is opaque).
 */
export function rawToRgb(
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  background: { readonly r: number; readonly g: number; readonly b: number },
): Promise<{ image: RgbImage; channels: number }> {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const bg = [background.r, background.g, background.b];
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      if (channels === 1) out[p * 3 + c] = data[p];
      else if (channels === 3) out[p * 3 + c] = data[p * 3 + c];
      else {
        const a = data[p * 4 + 3];
        const v = data[p * 4 + c];
        out[p * 3 + c] = a === 255 ? v : Math.round((v * a + bg[c] * (255 - a)) / 255);
      }
    }
  }
  return Promise.resolve({ image: { data: out, width, height }, channels: 3 });
}
