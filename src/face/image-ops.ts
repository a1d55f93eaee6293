/**
 * The face pipeline's pixel operations that depend on the platform: converting raw pixels to RGB,
 * resizing, padding and centre-cropping. This is the Node implementation (sharp / libvips); the web page's
 * bundle replaces this module with image-ops-portable.ts (plain TypeScript, same exports; see
 * scripts/build-web.mjs), so everything else in src/face is the same source on both platforms.
 */
import sharp, { type Sharp } from 'sharp';
import { oneSharpCallAtATime } from './sharp-queue.js';
import type { RgbImage } from './types.js';

/** Resampling kernel: `'linear'` (bilinear, the detectors' letterbox) or `'lanczos3'` (sharp's default). */
export type ResizeKernel = 'linear' | 'lanczos3';

const raw = (image: RgbImage): Sharp =>
  sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });

const asRgb = (data: Buffer, width: number, height: number): RgbImage => ({
  data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  width,
  height,
});

/** `image` resized to exactly `width x height` pixels (aspect not kept). */
export async function resizeRgb(
  image: RgbImage,
  width: number,
  height: number,
  kernel: ResizeKernel,
): Promise<RgbImage> {
  const data = await oneSharpCallAtATime(() =>
    raw(image).resize(width, height, { fit: 'fill', kernel }).raw().toBuffer(),
  );
  return asRgb(data, width, height);
}

/** `image` centred on a canvas grown by `margin` pixels on every side, edges replicated outwards. */
export async function extendRgb(image: RgbImage, margin: number): Promise<RgbImage> {
  const { data, info } = await oneSharpCallAtATime(() =>
    raw(image)
      .extend({ top: margin, bottom: margin, left: margin, right: margin, extendWith: 'copy' })
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  return asRgb(data, info.width, info.height);
}

/** The centre of `image` covering `width x height` (aspect kept, the excess cropped), lanczos3. */
export async function coverRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await oneSharpCallAtATime(() =>
    raw(image).resize(width, height, { fit: 'cover', position: 'centre' }).raw().toBuffer(),
  );
  return asRgb(data, width, height);
}

/**
 * Raw 8-bit pixels (grey, RGB or RGBA, already checked against their size) as RGB, alpha composited onto
 * `background`. Errors are sharp's; the caller classifies them.
 */
export async function rawToRgb(
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  background: { readonly r: number; readonly g: number; readonly b: number },
): Promise<{ image: RgbImage; channels: number }> {
  const out = await oneSharpCallAtATime(() =>
    sharp(new Uint8Array(data.buffer, data.byteOffset, data.length), {
      raw: { width, height, channels },
    })
      .autoOrient()
      .flatten({ background })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
  return { image: asRgb(out.data, out.info.width, out.info.height), channels: out.info.channels };
}
