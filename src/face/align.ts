/**
 * Face alignment: the least-squares similarity transform (Umeyama) from five detected landmarks to the
 * ArcFace 112 x 112 template, and the bilinear warp that produces the aligned crop recognisers expect.
 */
import type { Landmarks5, Point, RgbImage } from './types.js';

/** ArcFace's 5-point template for a 112 x 112 crop, in pixels, in {@link Landmarks5} order. */
export const ARCFACE_TEMPLATE_112: Landmarks5 = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * A similarity transform: `x' = a*x - b*y + tx`, `y' = b*x + a*y + ty`
 * (scale `sqrt(a^2 + b^2)`, rotation `atan2(b, a)`, no reflection).
 */
export interface Similarity {
  readonly a: number;
  readonly b: number;
  readonly tx: number;
  readonly ty: number;
}

/** Apply a similarity to a point. */
export function applySimilarity(t: Similarity, [x, y]: Point): Point {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

/** The inverse similarity (throws for a degenerate, zero-scale transform). */
export function invertSimilarity(t: Similarity): Similarity {
  const n = t.a * t.a + t.b * t.b;
  if (!(n > 0)) throw new Error('degenerate similarity transform (zero scale)');
  const a = t.a / n;
  const b = -t.b / n;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/**
 * Least-squares similarity mapping `src[i]` onto `dst[i]` (Umeyama, 1991, without reflection). In 2-D the
 * scaled rotation is `[[a, -b], [b, a]]`, so the problem is linear in (a, b) once both point sets are centred,
 * and the closed form below is the exact optimum.
 *
 * @param src at least 2 points, pixels.
 * @param dst as many points, pixels.
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n < 2 || dst.length !== n)
    throw new Error(`need >= 2 matching point pairs, got ${n} and ${dst.length}`);
  let msx = 0;
  let msy = 0;
  let mdx = 0;
  let mdy = 0;
  for (let i = 0; i < n; i++) {
    msx += src[i][0] / n;
    msy += src[i][1] / n;
    mdx += dst[i][0] / n;
    mdy += dst[i][1] / n;
  }
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[i][0] - msx;
    const sy = src[i][1] - msy;
    const dx = dst[i][0] - mdx;
    const dy = dst[i][1] - mdy;
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    norm += sx * sx + sy * sy;
  }
  if (!(norm > 0)) throw new Error('landmarks coincide: cannot estimate an alignment');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: mdx - (a * msx - b * msy), ty: mdy - (b * msx + a * msy) };
}

/**
 * Warp `image` by `t` (source pixels -> output pixels) into a `width x height` RGB image: every output pixel
 * reads the source at the inverse-mapped point with bilinear interpolation; outside the source is black.
 */
export function warpSimilarity(image: RgbImage, t: Similarity, width: number, height: number): RgbImage {
  const inv = invertSimilarity(t);
  const { data: src, width: sw, height: sh } = image;
  const out = new Uint8Array(width * height * 3);
  const px = (x: number, y: number, c: number): number =>
    x < 0 || y < 0 || x >= sw || y >= sh ? 0 : src[(y * sw + x) * 3 + c];
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = inv.a * u - inv.b * v + inv.tx;
      const y = inv.b * u + inv.a * v + inv.ty;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * width + u) * 3;
      if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh) continue;
      for (let c = 0; c < 3; c++) {
        const top = px(x0, y0, c) * (1 - fx) + px(x0 + 1, y0, c) * fx;
        const bottom = px(x0, y0 + 1, c) * (1 - fx) + px(x0 + 1, y0 + 1, c) * fx;
        out[o + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { data: out, width, height };
}

/** The template for a square crop of `size` pixels (the 112 template scaled by size / 112). */
export function arcfaceTemplate(size = 112): Landmarks5 {
  const k = size / 112;
  const [p0, p1, p2, p3, p4] = ARCFACE_TEMPLATE_112.map(([x, y]): Point => [x * k, y * k]);
  return [p0, p1, p2, p3, p4];
}

/**
 * Align a face: estimate the similarity from its landmarks to a template and warp.
 * @param landmarks five points in `image` pixels, {@link Landmarks5} order.
 * @param size output side in pixels (default 112).
 * @param template where the landmarks land, in output pixels (default: ArcFace's, scaled to `size`).
 * @returns a `size x size` RGB crop.
 */
export function alignFace(
  image: RgbImage,
  landmarks: Landmarks5,
  size = 112,
  template: Landmarks5 = arcfaceTemplate(size),
): RgbImage {
  const t = estimateSimilarity(landmarks, template);
  return warpSimilarity(image, t, size, size);
}
