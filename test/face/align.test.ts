import { describe, expect, it } from 'vitest';
import {
  ARCFACE_TEMPLATE_112,
  type Similarity,
  alignFace,
  applySimilarity,
  estimateSimilarity,
  invertSimilarity,
  warpSimilarity,
} from '../../src/face/align.js';
import type { Landmarks5, Point, RgbImage } from '../../src/face/types.js';

function similarity(scale: number, degrees: number, tx: number, ty: number): Similarity {
  const r = (degrees * Math.PI) / 180;
  return { a: scale * Math.cos(r), b: scale * Math.sin(r), tx, ty };
}

function mapLandmarks(t: Similarity, pts: Landmarks5): Landmarks5 {
  const [a, b, c, d, e] = pts.map((p) => applySimilarity(t, p));
  return [a, b, c, d, e];
}

function residual(t: Similarity, src: readonly Point[], dst: readonly Point[]): number {
  return src.reduce((s, p, i) => {
    const [x, y] = applySimilarity(t, p);
    return s + (x - dst[i][0]) ** 2 + (y - dst[i][1]) ** 2;
  }, 0);
}

/** A smooth colourful test pattern: bilinear sampling reproduces it closely. */
function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = 128 + 100 * Math.sin(x / 9);
      data[o + 1] = 128 + 100 * Math.cos(y / 7);
      data[o + 2] = 128 + 100 * Math.sin((x + y) / 13);
    }
  }
  return { data, width: w, height: h };
}

describe('similarity estimation (Umeyama)', () => {
  it('recovers a known similarity of the ArcFace template exactly', () => {
    for (const truth of [
      similarity(2.3, 17, 40, -12),
      similarity(0.6, -140, 300, 250),
      similarity(1, 0, 0, 0),
    ]) {
      const moved = mapLandmarks(truth, ARCFACE_TEMPLATE_112);
      const t = estimateSimilarity(ARCFACE_TEMPLATE_112, moved);
      expect(t.a).toBeCloseTo(truth.a, 9);
      expect(t.b).toBeCloseTo(truth.b, 9);
      expect(t.tx).toBeCloseTo(truth.tx, 7);
      expect(t.ty).toBeCloseTo(truth.ty, 7);
    }
  });

  it('is the least-squares optimum for noisy points: any nudge increases the residual', () => {
    const noisy: Point[] = mapLandmarks(similarity(1.4, 8, 20, 30), ARCFACE_TEMPLATE_112).map(
      ([x, y], i) => [x + [1.5, -2, 0.7, -0.4, 2.2][i], y + [-1.1, 0.3, 1.9, -2.4, 0.6][i]] as Point,
    );
    const best = estimateSimilarity(ARCFACE_TEMPLATE_112, noisy);
    const r0 = residual(best, ARCFACE_TEMPLATE_112, noisy);
    expect(r0).toBeGreaterThan(0);
    for (const key of ['a', 'b', 'tx', 'ty'] as const) {
      for (const d of [1e-3, -1e-3]) {
        expect(residual({ ...best, [key]: best[key] + d }, ARCFACE_TEMPLATE_112, noisy)).toBeGreaterThan(r0);
      }
    }
  });

  it('never returns a reflection, and inverts exactly', () => {
    const mirrored: Point[] = ARCFACE_TEMPLATE_112.map(([x, y]) => [112 - x, y]);
    const t = estimateSimilarity(ARCFACE_TEMPLATE_112, mirrored);
    // A similarity has determinant a^2 + b^2 > 0 by construction; the best one for a mirror image is a
    // shrunken one, strictly worse than the reflection would be.
    expect(residual(t, ARCFACE_TEMPLATE_112, mirrored)).toBeGreaterThan(1);
    const s = similarity(1.7, 33, -5, 9);
    const back = applySimilarity(invertSimilarity(s), applySimilarity(s, [12.5, -7.25]));
    expect(back[0]).toBeCloseTo(12.5, 10);
    expect(back[1]).toBeCloseTo(-7.25, 10);
  });

  it('rejects degenerate input', () => {
    const p: Point = [5, 5];
    expect(() => estimateSimilarity([p, p, p, p, p], ARCFACE_TEMPLATE_112)).toThrow(/coincide/);
    expect(() => estimateSimilarity([p], [p])).toThrow(/need >= 2/);
  });
});

describe('warping', () => {
  it('a face warped by a known similarity and aligned back round-trips', () => {
    const face = pattern(112, 112);
    const truth = similarity(2.2, 25, 150, 40);
    const photo = warpSimilarity(face, truth, 420, 380);
    const aligned = alignFace(photo, mapLandmarks(truth, ARCFACE_TEMPLATE_112));
    expect(aligned.width).toBe(112);
    expect(aligned.height).toBe(112);
    // Compare away from the border, where the forward warp had no source pixels to interpolate from.
    let diff = 0;
    let n = 0;
    for (let y = 4; y < 108; y++) {
      for (let x = 4; x < 108; x++) {
        for (let c = 0; c < 3; c++)
          diff += Math.abs(aligned.data[(y * 112 + x) * 3 + c] - face.data[(y * 112 + x) * 3 + c]);
        n += 3;
      }
    }
    expect(diff / n).toBeLessThan(1.5);
  });

  it('samples bilinearly at sub-pixel offsets and leaves outside pixels black', () => {
    const img: RgbImage = { data: Uint8Array.from([0, 0, 0, 200, 100, 50]), width: 2, height: 1 };
    const half = warpSimilarity(img, { a: 1, b: 0, tx: -0.5, ty: 0 }, 3, 1);
    expect(Array.from(half.data.subarray(0, 3))).toEqual([100, 50, 25]);
    expect(Array.from(half.data.subarray(6, 9))).toEqual([0, 0, 0]);
  });
});
