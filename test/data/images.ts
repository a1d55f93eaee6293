/** Test images: real PNG/JPEG files written with sharp into a temporary identity-per-folder tree. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../../src/util/random.js';

export const SIDE = 12;

/** Deterministic RGB noise, [SIDE, SIDE, 3] HWC, different for every (cls, i). */
export function noisePixels(cls: number, i: number): Uint8Array {
  const rand = seededRandom(1000 * cls + i + 1);
  return Uint8Array.from({ length: SIDE * SIDE * 3 }, () => Math.floor(rand() * 256));
}

export interface Tree {
  root: string;
  /** Expected pixels (HWC) of every PNG, by path. */
  pixels: Map<string, Uint8Array>;
  /** The truncated JPEG. */
  corrupt: string;
}

/**
 * `classes` folders of `perClass` lossless PNGs each, plus one valid JPEG and one truncated JPEG in
 * class 0, and a text file that the dataset must ignore.
 */
export async function makeTree(classes: number, perClass: number): Promise<Tree> {
  const root = await mkdtemp(join(tmpdir(), 'arcface-data-'));
  const pixels = new Map<string, Uint8Array>();
  for (let c = 0; c < classes; c++) {
    const dir = join(root, `person_${c}`);
    await mkdir(dir);
    for (let i = 0; i < perClass; i++) {
      const px = noisePixels(c, i);
      const path = join(dir, `img_${String(i).padStart(3, '0')}.png`);
      await sharp(Buffer.from(px), { raw: { width: SIDE, height: SIDE, channels: 3 } })
        .png()
        .toFile(path);
      pixels.set(path, px);
    }
  }
  const jpeg = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 90 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
  await writeFile(join(root, 'person_0', 'good.jpg'), jpeg);
  const corrupt = join(root, 'person_0', 'truncated.jpg');
  await writeFile(corrupt, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(join(root, 'person_0', 'notes.txt'), 'not an image');
  return { root, pixels, corrupt };
}
