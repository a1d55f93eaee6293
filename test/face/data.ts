/** Where the face tests find real data: ../shared/data beside the project, and face-api's sample photos. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const shared = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

export const LFW_DIR = `${shared}lfw/lfw-deepfunneled/`;
export const SCRFD_500M = `${shared}models/scrfd/scrfd_500m.onnx`;
export const YUNET_N = `${shared}models/yunet/onnx/yunet_n_dynamic.onnx`;
export const MOBILEFACENET = `${shared}models/mobilefacenet/mobilefacenet_photo_analyze.onnx`;
/** A photo with several people (1920 x 1280), shipped by the @vladmandic/face-api package. */
export const GROUP_PHOTO = `${repo}node_modules/@vladmandic/face-api/demo/sample1.jpg`;

/** An LFW image by identity and 1-based number. */
export function lfw(name: string, n: number): string {
  return `${LFW_DIR}${name}/${name}_${String(n).padStart(4, '0')}.jpg`;
}

/** True when the models and LFW are present; otherwise says why the tests that need them skip. */
export function haveSharedData(): boolean {
  const missing = [SCRFD_500M, YUNET_N, MOBILEFACENET, LFW_DIR].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    console.warn(
      `face tests skipped: shared data missing (${missing.join(', ')}); see ../shared/data/README.md`,
    );
  }
  return missing.length === 0;
}

/** True when LFW is present (the default pipeline needs nothing else); otherwise says why tests skip. */
export function haveLfw(): boolean {
  const ok = existsSync(LFW_DIR);
  if (!ok)
    console.warn(`default-pipeline LFW tests skipped: ${LFW_DIR} missing; see ../shared/data/README.md`);
  return ok;
}

/** True when face-api's sample photos are installed (npm install). */
export function haveSamplePhotos(): boolean {
  const ok = existsSync(GROUP_PHOTO);
  if (!ok) console.warn(`face tests skipped: ${GROUP_PHOTO} missing; run npm install`);
  return ok;
}
