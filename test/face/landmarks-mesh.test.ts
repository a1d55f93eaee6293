/**
 * Landmarks from the face mesh: the index mapping and crop geometry on hand-made points, and on real LFW
 * images (skipped without ../shared/data) the five points' placement, their distance to SCRFD's against
 * BlazeFace's, the attention mesh's ONNX outputs against TF.js on a real face crop, and the pipeline stage.
 */
import { describe, expect, it } from 'vitest';
import { applySimilarity, warpSimilarity } from '../../src/face/align.js';
import { loadBlazeFace } from '../../src/face/detect-blazeface.js';
import { loadScrfd } from '../../src/face/detect-scrfd.js';
import { decodeImage } from '../../src/face/image.js';
import {
  LEFT_EYE_CONTOUR,
  MOUTH_CORNERS,
  NOSE_TIP,
  RIGHT_EYE_CONTOUR,
  loadMeshLandmarker,
  meshCropTransform,
  meshLandmarks5,
  parseLandmarkSource,
} from '../../src/face/landmarks-mesh.js';
import { createFacePipeline } from '../../src/face/pipeline.js';
import type { DetectedFace, Landmarks5, Point, RgbImage } from '../../src/face/types.js';
import { compare, humanModel, loadReference, runReference } from '../import/tfjs-reference.js';
import { convertTfjsGraph, loadTfjsGraph } from '../../src/import/tfjs-graph.js';
import { runImported } from '../import/tfjs-reference.js';
import { SCRFD_500M, haveLfw, lfw } from './data.js';
import { existsSync } from 'node:fs';

const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
const mean5 = (a: Landmarks5, b: Landmarks5): number => a.reduce((s, p, i) => s + dist(p, b[i]), 0) / 5;

describe('mesh landmark mapping', () => {
  it('takes eyes as lid-contour means, the nose point and the lip corners, ordered left to right', () => {
    // A fake mesh: point i at (i, 2i), except the named ones, placed where a face mirrored in x would put them.
    const placed = new Map<number, Point>();
    for (const i of RIGHT_EYE_CONTOUR) placed.set(i, [200, 50]); // the subject's right eye on the image's right
    placed.set(RIGHT_EYE_CONTOUR[0], [190, 52]);
    for (const i of LEFT_EYE_CONTOUR) placed.set(i, [100, 50]);
    placed.set(NOSE_TIP, [150, 90]);
    placed.set(MOUTH_CORNERS[0], [180, 120]);
    placed.set(MOUTH_CORNERS[1], [120, 120]);
    const point = (i: number): Point => placed.get(i) ?? [i, 2 * i];
    const [le, re, nose, ml, mr] = meshLandmarks5(point);
    expect(le).toEqual([100, 50]);
    // 15 points at (200, 50) and one at (190, 52): the mean.
    expect(re[0]).toBeCloseTo((15 * 200 + 190) / 16, 10);
    expect(re[1]).toBeCloseTo((15 * 50 + 52) / 16, 10);
    expect(nose).toEqual([150, 90]);
    expect(ml).toEqual([120, 120]);
    expect(mr).toEqual([180, 120]);
    // Refined points replace eyes and mouth.
    const refined = meshLandmarks5(point, {
      irises: [
        [210, 49],
        [95, 51],
      ],
      mouth: [
        [119, 121],
        [181, 119],
      ],
    });
    expect(refined).toEqual([
      [95, 51],
      [210, 49],
      [150, 90],
      [119, 121],
      [181, 119],
    ]);
  });

  it('crops the box enlarged 1.4 times, centred, with the eyes level', () => {
    const face: DetectedFace = {
      box: { x1: 100, y1: 80, x2: 200, y2: 200 },
      score: 0.9,
      landmarks: [
        [120, 110],
        [180, 130],
        [150, 150],
        [130, 180],
        [170, 190],
      ],
    };
    const t = meshCropTransform(face, 192);
    const [cx, cy] = applySimilarity(t, [150, 140]);
    expect(cx).toBeCloseTo(95.5, 6);
    expect(cy).toBeCloseTo(95.5, 6);
    expect(Math.hypot(t.a, t.b)).toBeCloseTo(192 / (1.4 * 120), 10);
    const l = applySimilarity(t, face.landmarks[0]);
    const r = applySimilarity(t, face.landmarks[1]);
    expect(l[1]).toBeCloseTo(r[1], 6);
    expect(l[0]).toBeLessThan(r[0]);
  });

  it('rejects an unknown landmark source, naming the accepted ones', () => {
    expect(parseLandmarkSource('mesh')).toBe('mesh');
    expect(() => parseLandmarkSource('dlib')).toThrow(/detector, mesh, mesh-attention/);
  });
});

const haveShared = haveLfw() && existsSync(SCRFD_500M);

describe.skipIf(!haveShared)('mesh landmarks on LFW (../shared/data)', () => {
  const images: [string, number][] = [
    ['George_W_Bush', 1],
    ['Colin_Powell', 1],
    ['Abel_Pacheco', 1],
    ['Jennifer_Aniston', 2],
    ['Serena_Williams', 3],
    ['Tony_Blair', 5],
  ];

  async function detected(): Promise<{ image: RgbImage; blaze: DetectedFace; scrfd: DetectedFace }[]> {
    const blaze = await loadBlazeFace('back', { threads: 2 });
    const scrfd = await loadScrfd(SCRFD_500M, { threads: 2 });
    const largest = (fs: DetectedFace[]): DetectedFace =>
      fs.reduce((a, b) =>
        (b.box.x2 - b.box.x1) * (b.box.y2 - b.box.y1) > (a.box.x2 - a.box.x1) * (a.box.y2 - a.box.y1) ? b : a,
      );
    const out = [];
    for (const [name, n] of images) {
      const image = await decodeImage(lfw(name, n));
      out.push({
        image,
        blaze: largest(await blaze.detect(image)),
        scrfd: largest(await scrfd.detect(image)),
      });
    }
    await Promise.all([blaze.dispose(), scrfd.dispose()]);
    return out;
  }

  for (const source of ['mesh', 'mesh-attention'] as const) {
    it(`${source}: five points inside the box, in order, closer to SCRFD's than BlazeFace's`, async () => {
      const mesh = await loadMeshLandmarker(source, { threads: 2 });
      let meshErr = 0;
      let blazeErr = 0;
      for (const { image, blaze, scrfd } of await detected()) {
        const fit = await mesh.fit(image, blaze);
        expect(fit.score).toBeGreaterThan(0.5);
        const [le, re, nose, ml, mr] = fit.landmarks;
        for (const [x, y] of fit.landmarks) {
          expect(x).toBeGreaterThan(blaze.box.x1);
          expect(x).toBeLessThan(blaze.box.x2);
          expect(y).toBeGreaterThan(blaze.box.y1);
          expect(y).toBeLessThan(blaze.box.y2);
        }
        expect(le[0]).toBeLessThan(re[0]);
        expect(ml[0]).toBeLessThan(mr[0]);
        expect(nose[1]).toBeGreaterThan((le[1] + re[1]) / 2);
        expect(ml[1]).toBeGreaterThan(nose[1]);
        const eyes = dist(scrfd.landmarks[0], scrfd.landmarks[1]);
        meshErr += mean5(fit.landmarks, scrfd.landmarks) / eyes;
        blazeErr += mean5(blaze.landmarks, scrfd.landmarks) / eyes;
        // refine() keeps the box and score and swaps the points.
        const refined = await mesh.refine(image, blaze);
        expect(refined.box).toEqual(blaze.box);
        expect(refined.landmarks).toEqual(fit.landmarks);
      }
      await mesh.dispose();
      // Measured on these six: mesh about 0.04 of the eye distance from SCRFD on average, BlazeFace 0.09.
      expect(meshErr).toBeLessThan(0.75 * blazeErr);
    });
  }

  it('mesh-attention in ONNX Runtime matches TF.js on a real face crop', async () => {
    const [{ image, blaze }] = await detected();
    const crop = warpSimilarity(image, meshCropTransform(blaze, 192), 192, 192);
    const data = Float32Array.from(crop.data, (v) => v / 255); // NHWC, 0..1, as the mesh takes it
    const path = humanModel('facemesh-attention');
    const names = ['Identity_4', 'Identity_3', 'Identity_2', 'Identity_6'];
    const ours = await runImported(
      convertTfjsGraph(await loadTfjsGraph(path), { outputs: names }),
      'input_1',
      data,
    );
    const reference = await runReference(await loadReference(path), data, [1, 192, 192, 3], names, 'cpu');
    names.forEach((name, i) => {
      const { maxDiff, scale } = compare(ours[name], reference[i]);
      expect(scale, name).toBeGreaterThan(50); // crop pixels
      expect(maxDiff, `${name} (scale ${scale})`).toBeLessThan(1e-4 * scale);
    });
  });

  it('the pipeline aligns with the mesh points when asked', async () => {
    const path = lfw('Colin_Powell', 1);
    const mesh = await createFacePipeline({ landmarks: 'mesh', threads: 2 });
    const plain = await createFacePipeline({ landmarks: 'detector', threads: 2 });
    try {
      const a = await mesh.embed(path);
      const b = await plain.embed(path);
      const detectedFace = (await plain.detect(path)).faces[0];
      expect(b.face!.landmarks).toEqual(detectedFace.landmarks);
      expect(a.face!.box).toEqual(b.face!.box);
      // Different points, same face: the embeddings differ but stay close.
      expect(mean5(a.face!.landmarks, b.face!.landmarks)).toBeGreaterThan(0.5);
      const cos = a.embedding.reduce((s, v, i) => s + v * b.embedding[i], 0);
      expect(cos).toBeLessThan(0.99999);
      expect(cos).toBeGreaterThan(0.9);
    } finally {
      await Promise.all([mesh.dispose(), plain.dispose()]);
    }
  });
});
