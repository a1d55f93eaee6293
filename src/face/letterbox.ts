/** Fitting an image of any size into a detector's fixed input, and mapping detections back. */
import { resizeRgb } from './image-ops.js';
import type { Box, DetectedFace, Point, RgbImage } from './types.js';

/** An image resized (aspect kept) into the top-left of a `width x height` canvas padded with black. */
export interface Letterboxed {
  readonly image: RgbImage;
  /** Input pixels per original pixel, horizontally and vertically (equal up to rounding). */
  readonly scaleX: number;
  readonly scaleY: number;
}

/**
 * Resize `image` keeping its aspect ratio so it fits `width x height`, placed top-left and padded with black,
 * as InsightFace's detectors do (padding top-left keeps the mapping back a pure scale).
 */
export async function letterbox(image: RgbImage, width: number, height: number): Promise<Letterboxed> {
  const ratio = Math.min(width / image.width, height / image.height);
  const w = Math.max(1, Math.min(width, Math.round(image.width * ratio)));
  const h = Math.max(1, Math.min(height, Math.round(image.height * ratio)));
  const resized =
    w === image.width && h === image.height ? image.data : (await resizeRgb(image, w, h, 'linear')).data;
  let data: Uint8Array;
  if (w === width && h === height) {
    data = new Uint8Array(resized.buffer, resized.byteOffset, resized.length);
  } else {
    data = new Uint8Array(width * height * 3);
    for (let y = 0; y < h; y++) data.set(resized.subarray(y * w * 3, (y + 1) * w * 3), y * width * 3);
  }
  return { image: { data, width, height }, scaleX: w / image.width, scaleY: h / image.height };
}

/** Map a detection made on the letterboxed input back to the original image's pixels. */
export function unletterbox(face: DetectedFace, lb: Letterboxed): DetectedFace {
  const { scaleX: sx, scaleY: sy } = lb;
  const box: Box = { x1: face.box.x1 / sx, y1: face.box.y1 / sy, x2: face.box.x2 / sx, y2: face.box.y2 / sy };
  const p = (q: Point): Point => [q[0] / sx, q[1] / sy];
  const [a, b, c, d, e] = face.landmarks;
  return { box, score: face.score, landmarks: [p(a), p(b), p(c), p(d), p(e)] };
}
