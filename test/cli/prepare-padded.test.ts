/**
 * `arcface prepare` on a tight crop: an LFW photo cut to its own face box, so the face touches every edge.
 * The default detector (BlazeFace) finds no face in it; prepare retries on a padded copy, finds it, writes a
 * 112 x 112 crop of the same face the full photo gives, and marks the entry `padded` in the manifest.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREPARE_MANIFEST, type PrepareManifest } from '../../src/data/prepare-folder.js';
import { createFacePipeline } from '../../src/face/index.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const LFW = fileURLToPath(new URL('../../../shared/data/lfw/lfw-deepfunneled/', import.meta.url));
const haveLfw = existsSync(LFW);
if (!haveLfw)
  console.warn(`prepare padding tests skipped: LFW not found at ${LFW} (../shared/data is absent)`);

/** A photo whose face-box crop BlazeFace misses (checked below, not assumed). */
const PHOTO = join('Tony_Blair', 'Tony_Blair_0001.jpg');
/** Another person: the yardstick for "a different face". */
const OTHER = join('Colin_Powell', 'Colin_Powell_0001.jpg');

const run = (args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dev', timeoutMs: 240_000 });

/** Decoded RGB pixels of a PNG crop, with its size. */
async function pixels(path: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean absolute difference per channel value over the central half of two same-size crops (0..255). */
function centreDiff(a: Buffer, b: Buffer, side: number): number {
  let sum = 0;
  let n = 0;
  for (let y = side / 4; y < (3 * side) / 4; y++)
    for (let x = side / 4; x < (3 * side) / 4; x++)
      for (let c = 0; c < 3; c++) {
        const i = (y * side + x) * 3 + c;
        sum += Math.abs(a[i] - b[i]);
        n++;
      }
  return sum / n;
}

describe.skipIf(!haveLfw)('arcface prepare retries a tight crop on a padded copy (LFW)', () => {
  let dir: string;
  let data: string;
  let out: string;
  let tightFaces: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-prepare-pad-'));
    data = join(dir, 'faces');
    out = join(dir, 'aligned');
    await mkdir(join(data, 'Tony_Blair'), { recursive: true });
    await mkdir(join(data, 'Colin_Powell'), { recursive: true });
    await copyFile(join(LFW, PHOTO), join(data, PHOTO));
    await copyFile(join(LFW, OTHER), join(data, OTHER));
    // The face box the detector gives on the full photo, cut out: the face now fills the frame.
    const pipeline = await createFacePipeline({ recognizer: false, threads: 1 });
    try {
      const full = await readFile(join(LFW, PHOTO));
      const { faces, width, height } = await pipeline.detect(full);
      expect(faces.length).toBeGreaterThan(0);
      // The largest box, as prepare keeps.
      const area = (f: (typeof faces)[number]): number => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
      const { x1, y1, x2, y2 } = faces.reduce((a, b) => (area(b) > area(a) ? b : a)).box;
      const left = Math.max(0, Math.round(x1));
      const top = Math.max(0, Math.round(y1));
      const tight = await sharp(full)
        .extract({
          left,
          top,
          width: Math.min(width, Math.round(x2)) - left,
          height: Math.min(height, Math.round(y2)) - top,
        })
        .png()
        .toBuffer();
      await writeFile(join(data, 'Tony_Blair', 'tight.png'), tight);
      tightFaces = (await pipeline.detect(tight)).faces.length;
    } finally {
      await pipeline.dispose();
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the face only after padding, records it, and writes the same face at 112 x 112', async () => {
    // The premise: on the tight crop itself the detector finds nothing (the first pass gives "no face").
    expect(tightFaces).toBe(0);
    const r = await run(['prepare', '--data', data, '--out', out, '--threads', '1', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/3 images: 3 aligned now, 0 already done, 0 with no face, 0 failed/);
    expect(r.stderr).toMatch(/1 faces found only on a padded copy \(tight crops\): Tony_Blair\/tight\.png/);

    const manifest = JSON.parse(await readFile(join(out, PREPARE_MANIFEST), 'utf8')) as PrepareManifest;
    expect(manifest.entries['Tony_Blair/tight.png']).toMatchObject({ status: 'ok', padded: true, faces: 1 });
    // Photos the first pass handles carry no mark.
    expect(manifest.entries['Tony_Blair/Tony_Blair_0001.jpg'].padded).toBeUndefined();
    expect(manifest.entries['Colin_Powell/Colin_Powell_0001.jpg'].padded).toBeUndefined();

    const tight = await pixels(join(out, 'Tony_Blair', 'tight.png'));
    const full = await pixels(join(out, 'Tony_Blair', 'Tony_Blair_0001.png'));
    const other = await pixels(join(out, 'Colin_Powell', 'Colin_Powell_0001.png'));
    expect([tight.width, tight.height]).toEqual([112, 112]);
    // Landmarks from the padded copy put the face where the full photo's do: the crop's centre (eyes, nose,
    // mouth) matches the full photo's crop far better than another person's crop does.
    const same = centreDiff(tight.data, full.data, 112);
    const different = centreDiff(tight.data, other.data, 112);
    expect(same).toBeLessThan(different / 3);

    // A re-run skips it (the manifest's outcome is kept) and still names it.
    const again = await run(['prepare', '--data', data, '--out', out, '--threads', '1', '--quiet']);
    expect(again.stderr).toMatch(/3 images: 0 aligned now, 3 already done/);
    expect(again.stderr).toMatch(/1 faces found only on a padded copy/);
  });
});
