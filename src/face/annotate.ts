/** Drawing detections onto an image (boxes, landmarks, scores) as an SVG overlay composited by sharp. */
import sharp from 'sharp';
import type { DetectedFace, RgbImage } from './types.js';
import { oneSharpCallAtATime } from './sharp-queue.js';

// One colour per landmark, in Landmarks5 order: eyes, nose, mouth corners.
const LANDMARK_COLOURS = ['#00e5ff', '#ff3df2', '#ffe600', '#ff7a00', '#3d7bff'];

function overlay(width: number, height: number, faces: readonly DetectedFace[]): string {
  // Line widths follow the image size so boxes stay visible on 4000 px photos and thin on thumbnails.
  const unit = Math.max(1, Math.round(Math.max(width, height) / 400));
  const fmt = (v: number): string => v.toFixed(1);
  const parts = faces.map((f) => {
    const { x1, y1, x2, y2 } = f.box;
    const rect = `<rect x="${fmt(x1)}" y="${fmt(y1)}" width="${fmt(x2 - x1)}" height="${fmt(y2 - y1)}" fill="none" stroke="#00ff40" stroke-width="${unit * 2}"/>`;
    const dots = f.landmarks
      .map(
        ([x, y], i) =>
          `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="${unit * 2.5}" fill="${LANDMARK_COLOURS[i]}"/>`,
      )
      .join('');
    const label = `<text x="${fmt(x1)}" y="${fmt(Math.max(unit * 10, y1 - unit * 3))}" font-family="sans-serif" font-size="${unit * 10}" fill="#00ff40">${f.score.toFixed(2)}</text>`;
    return rect + dots + label;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/**
 * Draw faces onto an image.
 * @param image the decoded image the faces were detected in (their coordinates are its pixels).
 * @param format output encoding.
 * @returns the encoded annotated image.
 */
export async function annotateFaces(
  image: RgbImage,
  faces: readonly DetectedFace[],
  format: 'png' | 'jpeg' | 'webp' = 'png',
): Promise<Buffer> {
  const svg = Buffer.from(overlay(image.width, image.height, faces));
  return oneSharpCallAtATime(() =>
    sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .composite([{ input: svg, top: 0, left: 0 }])
      .toFormat(format)
      .toBuffer(),
  );
}
