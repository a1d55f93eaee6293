/**
 * The web page's pixel operations (src/face/image-ops-portable.ts, plain TypeScript) against Node's
 * (src/face/image-ops.ts, sharp): byte-exact where the page must match Node exactly (linear upscaling,
 * as in the letterbox of LFW's 250 px images into BlazeFace's 256; edge padding; opaque RGBA), close
 * elsewhere (downscaling, lanczos3).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as node from '../../src/face/image-ops.js';
import * as portable from '../../src/face/image-ops-portable.js';
import { decodeImage } from '../../src/face/image.js';
import type { RgbImage } from '../../src/face/types.js';
import { GROUP_PHOTO, LFW_DIR, lfw } from '../face/data.js';

/** A deterministic textured image: gradients plus a hash pattern, every channel different. */
function synthetic(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const h = ((x * 73856093) ^ (y * 19349663)) >>> 0;
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / width;
      data[o + 1] = h % 256;
      data[o + 2] = ((x + y) * 7) % 256;
    }
  }
  return { data, width, height };
}

function diff(a: RgbImage, b: RgbImage): { changed: number; max: number; mean: number } {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let changed = 0;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > 0) changed++;
    max = Math.max(max, d);
    sum += d;
  }
  return { changed, max, mean: sum / a.data.length };
}

describe('portable image ops vs sharp', () => {
  it('upscales with the linear kernel byte for byte as libvips does', async () => {
    for (const [w, h, W, H] of [
      [20, 20, 21, 21],
      [97, 61, 256, 200],
      [250, 250, 256, 256],
    ]) {
      const img = synthetic(w, h);
      const d = diff(
        await portable.resizeRgb(img, W, H, 'linear'),
        await node.resizeRgb(img, W, H, 'linear'),
      );
      expect(d.changed, `${w}x${h} -> ${W}x${H}`).toBe(0);
    }
  });

  it.skipIf(!existsSync(LFW_DIR))('letterboxes LFW photos into 256 px exactly as sharp does', async () => {
    for (const path of [lfw('Abel_Pacheco', 1), lfw('Akhmed_Zakayev', 3)]) {
      const img = await decodeImage(path);
      const d = diff(
        await portable.resizeRgb(img, 256, 256, 'linear'),
        await node.resizeRgb(img, 256, 256, 'linear'),
      );
      expect(d.changed, path).toBe(0);
    }
  });

  it('pads with replicated edges and converts opaque RGBA and grey exactly', async () => {
    const img = synthetic(31, 17);
    expect(diff(await portable.extendRgb(img, 9), await node.extendRgb(img, 9)).changed).toBe(0);
    const rgba = new Uint8ClampedArray(31 * 17 * 4);
    const grey = new Uint8Array(31 * 17);
    for (let p = 0; p < 31 * 17; p++) {
      rgba.set([img.data[p * 3], img.data[p * 3 + 1], img.data[p * 3 + 2], 255], p * 4);
      grey[p] = img.data[p * 3 + 1];
    }
    const bg = { r: 255, g: 255, b: 255 };
    for (const [data, ch] of [
      [rgba, 4],
      [grey, 1],
    ] as const) {
      const a = await portable.rawToRgb(data, 31, 17, ch, bg);
      const b = await node.rawToRgb(data, 31, 17, ch, bg);
      expect(a.channels).toBe(b.channels);
      expect(diff(a.image, b.image).changed, `${ch} channels`).toBe(0);
    }
  });

  it.skipIf(!existsSync(GROUP_PHOTO))(
    'downscales and centre-crops within a few grey levels of sharp (not bit-exact)',
    async () => {
      const img = await decodeImage(GROUP_PHOTO);
      const lin = diff(
        await portable.resizeRgb(img, 256, 171, 'linear'),
        await node.resizeRgb(img, 256, 171, 'linear'),
      );
      console.log('portable vs sharp, mean |diff| (max):', { lin });
      expect(lin.mean).toBeLessThan(3);
      const lz = diff(
        await portable.resizeRgb(img, 480, 320, 'lanczos3'),
        await node.resizeRgb(img, 480, 320, 'lanczos3'),
      );
      console.log({ lz });
      expect(lz.mean).toBeLessThan(3);
      const cover = diff(await portable.coverRgb(img, 150, 150), await node.coverRgb(img, 150, 150));
      console.log({ cover });
      expect(cover.mean).toBeLessThan(3);
    },
  );
});
