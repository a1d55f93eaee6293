/**
 * BlazeFace's anchors, and decoding its anchor outputs into boxes and its six keypoints, in input pixels, as Human and
 * MediaPipe do: each anchor regresses its box centre as an offset from the anchor, the box size, and six
 * keypoints as offsets from the anchor.
 */

/** One raw detection, in detector-input pixels. */
export interface BlazeFaceDetection {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  readonly score: number;
  /**
   * Six keypoints in MediaPipe's order: the two eyes, nose tip, mouth centre, the two ear tragions (the first
   * of each pair is the subject's right, on the image's left for an unmirrored photo).
   */
  readonly keypoints: readonly (readonly [number, number])[];
}

/**
 * Decode every anchor whose score reaches the threshold (no suppression: that is the caller's).
 * @param regressors [anchors * 16] values per anchor: cx, cy offsets, w, h, then 6 (x, y) keypoint offsets
 * @param scores [anchors] probabilities
 * @param anchors [anchors * 2] anchor centres in input pixels
 */
export function decodeBlazeFace(
  regressors: Float32Array,
  scores: Float32Array,
  anchors: Float32Array,
  threshold: number,
): BlazeFaceDetection[] {
  const n = scores.length;
  if (regressors.length !== n * 16 || anchors.length !== n * 2) {
    throw new Error(
      `BlazeFace: ${n} scores, ${regressors.length / 16} regressor rows and ${anchors.length / 2} anchors differ`,
    );
  }
  const out: BlazeFaceDetection[] = [];
  for (let i = 0; i < n; i++) {
    const score = scores[i];
    if (!(score >= threshold)) continue;
    const r = i * 16;
    const ax = anchors[2 * i];
    const ay = anchors[2 * i + 1];
    const cx = ax + regressors[r];
    const cy = ay + regressors[r + 1];
    const hw = regressors[r + 2] / 2;
    const hh = regressors[r + 3] / 2;
    const keypoints: [number, number][] = [];
    for (let k = 0; k < 6; k++)
      keypoints.push([ax + regressors[r + 4 + 2 * k], ay + regressors[r + 5 + 2 * k]]);
    out.push({ x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh, score, keypoints });
  }
  return out;
}

/**
 * BlazeFace anchors (MediaPipe's SSD anchors for the short-range face detector): two anchors per cell on
 * a grid of stride size/16, then six per cell on a grid of stride size/8, centred in the cells.
 * @returns [anchors * 2] centres in input pixels
 */
export function blazeFaceAnchors(size: number): Float32Array {
  const out: number[] = [];
  for (const [stride, perCell] of [
    [size / 16, 2],
    [size / 8, 6],
  ]) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) out.push((x + 0.5) * stride, (y + 0.5) * stride);
      }
    }
  }
  return Float32Array.from(out);
}
