/**
 * Tight face crops: does the pipeline still find the face when an image is cropped to it, and are the
 * decisions on LFW pairs the same as on the full images? (Issue 17: the whole-image fall-back that used to
 * catch such crops also called two faceless images "same"; the pipeline now retries detection on the image
 * padded by a margin instead.)
 *
 *   npx tsx bench/tight-crops.ts [-- --pairs 100 --crop 110 --lfw ../shared/data/lfw --threads N]
 *
 * Takes the first `pairs / 2` matched and `pairs / 2` mismatched pairs of LFW's fold 1, crops each
 * 250 x 250 deep-funneled image to its central `crop` x `crop` square (the face region), and embeds full
 * images and crops with the default pipeline (`noFace: 'error'`: a crop without a face counts as a miss).
 * Prints how crops were detected (directly / on the padded retry / not at all), the cosine similarity
 * between each image's full and cropped embedding, and how many pair decisions at the recogniser's
 * calibrated threshold differ between full images and crops.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { type FaceEmbedding, createFacePipeline } from '../src/face/pipeline.js';
import { decodeImage } from '../src/face/image.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100' },
    crop: { type: 'string', default: '110' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    threads: { type: 'string', default: String(availableParallelism()) },
    // Pad every crop by half its side (edge-replicated) before the pipeline sees it: what detection on the
    // padded copy gives when it is not only a retry.
    'pre-pad': { type: 'boolean', default: false },
  },
});
const nPairs = Number(values.pairs);
const side = Number(values.crop);
const half = Math.round(side / 2);

const list = parsePairs(await readFile(join(values.lfw, 'pairs.txt'), 'utf8'));
const fold1 = list.pairs.filter((p) => p.fold === 0);
const chosen = [
  ...fold1.filter((p) => p.same).slice(0, nPairs / 2),
  ...fold1.filter((p) => !p.same).slice(0, nPairs / 2),
];
const { paths, indexA, indexB } = pairImages({ ...list, pairs: chosen });
const pipeline = await createFacePipeline({ threads: Number(values.threads), noFace: 'error' });
const threshold = pipeline.recognizer?.threshold;
if (threshold === undefined) throw new Error('the default recogniser has no calibrated threshold');

const full: FaceEmbedding[] = [];
const crops: (FaceEmbedding | null)[] = [];
let direct = 0;
let padded = 0;
for (const rel of paths) {
  const image = await decodeImage(join(values.lfw, 'lfw-deepfunneled', rel));
  const off = Math.round((image.width - side) / 2);
  const cropped = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left: off, top: off, width: side, height: side })
    .extend(values['pre-pad'] ? { top: half, bottom: half, left: half, right: half, extendWith: 'copy' } : {})
    .png()
    .toBuffer();
  full.push(await pipeline.embed(image));
  const e = await pipeline.embed(cropped).catch(() => null);
  crops.push(e);
  if (e) {
    if (e.padded) padded++;
    else direct++;
  }
}
await pipeline.dispose();

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i], 0);
const sims = crops.flatMap((c, i) => (c ? [dot(c.embedding, full[i].embedding)] : [])).sort((a, b) => a - b);
let changed = 0;
let missing = 0;
let correctFull = 0;
let correctCrop = 0;
chosen.forEach((p, i) => {
  const a = crops[indexA[i]];
  const b = crops[indexB[i]];
  const sameFull = dot(full[indexA[i]].embedding, full[indexB[i]].embedding) >= threshold;
  if (sameFull === p.same) correctFull++;
  if (!a || !b) {
    missing++;
    return;
  }
  const sameCrop = dot(a.embedding, b.embedding) >= threshold;
  if (sameCrop === p.same) correctCrop++;
  if (sameCrop !== sameFull) changed++;
});
const q = (f: number): string => sims[Math.min(sims.length - 1, Math.floor(f * sims.length))].toFixed(3);
console.log(
  `${paths.length} images of ${chosen.length} LFW pairs, centre crops ${side} x ${side} of 250 x 250`,
);
console.log(
  `crops with a face: ${direct + padded}/${paths.length} (${direct} directly, ${padded} on the padded retry)`,
);
console.log(`cos(full, crop): min ${q(0)}, 5% ${q(0.05)}, median ${q(0.5)}`);
console.log(
  `decisions at threshold ${threshold}: ${changed} of ${chosen.length - missing} pairs changed ` +
    `(${missing} pairs lost a face); correct: full ${correctFull}/${chosen.length}, crops ${correctCrop}/${chosen.length - missing}`,
);
