import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFace } from '../../src/face/align.js';
import { decodeImage } from '../../src/face/image.js';
import { iou } from '../../src/face/nms.js';
import { type FacePipeline, NoFaceError, createFacePipeline } from '../../src/face/pipeline.js';
import type { DetectedFace, RgbImage } from '../../src/face/types.js';
import { loadDetector, loadRecognizer, parseRecognizerSpec } from '../../src/face/zoo.js';
import {
  GROUP_PHOTO,
  MOBILEFACENET,
  SCRFD_500M,
  YUNET_N,
  haveSamplePhotos,
  haveSharedData,
  lfw,
} from './data.js';

const THREADS = 1;

function dist(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

function inside(face: DetectedFace, margin = 0): boolean {
  const { x1, y1, x2, y2 } = face.box;
  return face.landmarks.every(
    ([x, y]) => x >= x1 - margin && x <= x2 + margin && y >= y1 - margin && y <= y2 + margin,
  );
}

function mirror(crop: RgbImage): RgbImage {
  const out = new Uint8Array(crop.data.length);
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      const s = (y * crop.width + x) * 3;
      out.set(crop.data.subarray(s, s + 3), (y * crop.width + crop.width - 1 - x) * 3);
    }
  }
  return { ...crop, data: out };
}

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i], 0);

describe.runIf(haveSharedData())('face pipeline with SCRFD-500m and the shared MobileFaceNet', () => {
  let p: FacePipeline;
  beforeAll(async () => {
    p = await createFacePipeline({
      detector: `scrfd:${SCRFD_500M}`,
      recognizer: `onnx:${MOBILEFACENET}`,
      threads: THREADS,
    });
  });
  afterAll(async () => {
    await p?.dispose();
  });

  it('finds an LFW face with plausible landmarks', async () => {
    const { width, height, faces } = await p.detect(lfw('Abel_Pacheco', 1));
    expect([width, height]).toEqual([250, 250]);
    expect(faces.length).toBeGreaterThanOrEqual(1);
    const [f] = faces;
    expect(f.score).toBeGreaterThan(0.5);
    // Deep-funneled LFW centres the face.
    expect(dist([(f.box.x1 + f.box.x2) / 2, (f.box.y1 + f.box.y2) / 2], [125, 125])).toBeLessThan(30);
    const [le, re, nose, lm, rm] = f.landmarks;
    expect(le[0]).toBeLessThan(re[0]);
    expect(lm[0]).toBeLessThan(rm[0]);
    expect(Math.max(le[1], re[1])).toBeLessThan(nose[1]);
    expect(nose[1]).toBeLessThan(Math.min(lm[1], rm[1]));
    expect(inside(f)).toBe(true);
  });

  it.runIf(haveSamplePhotos())('finds each person in a group photo', async () => {
    const { width, faces } = await p.detect(GROUP_PHOTO);
    expect(width).toBe(1920);
    expect(faces.length).toBeGreaterThanOrEqual(3);
    for (const f of faces.slice(0, 3)) {
      expect(inside(f, 0.05 * (f.box.x2 - f.box.x1))).toBe(true);
      expect(f.box.x2 - f.box.x1).toBeGreaterThan(100);
    }
    expect(iou(faces[0].box, faces[1].box)).toBe(0);
  });

  it('SCRFD and YuNet, decoded independently, agree on the face and its landmarks', async () => {
    const yunet = await loadDetector(`yunet:${YUNET_N}`, { threads: THREADS });
    try {
      const image = await decodeImage(lfw('Akhmed_Zakayev', 1));
      const [a] = await p.detector.detect(image);
      const [b] = await yunet.detect(image);
      expect(iou(a.box, b.box)).toBeGreaterThan(0.6);
      const size = a.box.x2 - a.box.x1;
      a.landmarks.forEach((q, i) => expect(dist(q, b.landmarks[i])).toBeLessThan(0.1 * size));
    } finally {
      await yunet.dispose();
    }
  });

  it('maps detections back to original pixels for any size and aspect', async () => {
    const path = lfw('Abel_Pacheco', 1);
    const [ref] = (await p.detect(path)).faces;
    // The same face inside a wide 800 x 400 canvas at (420, 90): the detector sees it at another scale.
    const wide = await sharp(path)
      .extend({ left: 420, right: 130, top: 90, bottom: 60, background: '#808080' })
      .png()
      .toBuffer();
    const d = await p.detect(wide);
    expect([d.width, d.height]).toEqual([800, 400]);
    const [f] = d.faces;
    const tolerance = 0.06 * (ref.box.x2 - ref.box.x1);
    ref.landmarks.forEach((q, i) =>
      expect(dist([q[0] + 420, q[1] + 90], f.landmarks[i])).toBeLessThan(tolerance),
    );
  });

  it('reports faces in upright coordinates for an EXIF-rotated photo', async () => {
    const path = lfw('Akhmed_Zakayev', 3);
    const [ref] = (await p.detect(path)).faces;
    // Stored rotated a quarter turn anticlockwise, tagged orientation 6 ("rotate 90 clockwise to display").
    const stored = await sharp(path)
      .rotate(-90)
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    const d = await p.detect(stored);
    expect([d.width, d.height]).toEqual([250, 250]);
    const tolerance = 0.05 * (ref.box.x2 - ref.box.x1);
    ref.landmarks.forEach((q, i) => expect(dist(q, d.faces[0].landmarks[i])).toBeLessThan(tolerance));
  });

  it('scores same-person LFW pairs above different-person pairs', async () => {
    const [abel1, abel4, akh1, akh3, jong2, dean1] = await Promise.all(
      [
        lfw('Abel_Pacheco', 1),
        lfw('Abel_Pacheco', 4),
        lfw('Akhmed_Zakayev', 1),
        lfw('Akhmed_Zakayev', 3),
        lfw('Jong_Thae_Hwa', 2),
        lfw('Dean_Barker', 1),
      ].map((f) => p.embed(f)),
    );
    for (const e of [abel1, abel4, akh1]) {
      expect(e.embedding.length).toBe(128);
      expect(dot(e.embedding, e.embedding)).toBeCloseTo(1, 5);
      expect(e.fallback).toBe(false);
    }
    const genuine = [p.compare(abel1.embedding, abel4.embedding), p.compare(akh1.embedding, akh3.embedding)];
    const impostor = [
      p.compare(abel1.embedding, jong2.embedding),
      p.compare(akh1.embedding, dean1.embedding),
      p.compare(abel4.embedding, akh3.embedding),
    ];
    expect(Math.min(...genuine)).toBeGreaterThan(Math.max(...impostor));
    const same = await p.verify(abel1.embedding, abel4.embedding);
    const different = await p.verify(abel1.embedding, jong2.embedding);
    expect(same.same).toBe(true);
    expect(different.same).toBe(false);
    expect(same.threshold).toBe(p.recognizer?.threshold);
  });

  it('flip-augmented embeddings are mirror-invariant; batches equal single runs', async () => {
    const rec = p.recognizer!;
    const crops = await Promise.all(
      [lfw('Abel_Pacheco', 1), lfw('Dean_Barker', 1)].map(async (f) => {
        const image = await decodeImage(f);
        const [face] = (await p.detect(image)).faces;
        return alignFace(image, face.landmarks);
      }),
    );
    const [a, b, aMirror] = await rec.embed([crops[0], crops[1], mirror(crops[0])]);
    expect(dot(a, aMirror)).toBeCloseTo(1, 5);
    const [single] = await rec.embed([crops[1]]);
    expect(dot(single, b)).toBeCloseTo(1, 6);
    const plain = await loadRecognizer(`onnx:${MOBILEFACENET}`, { flip: false, threads: THREADS });
    try {
      const [pa, pm] = await plain.embed([crops[0], mirror(crops[0])]);
      expect(dot(pa, pm)).toBeLessThan(0.999);
      expect(dot(pa, a)).toBeGreaterThan(0.8);
    } finally {
      await plain.dispose();
    }
  });

  it('finds the face of an aligned crop on the padded image; embeds a faceless one whole, and says so', async () => {
    const image = await decodeImage(lfw('Abel_Pacheco', 1));
    const original = await p.embed(image);
    // An already aligned 112 x 112 crop: the face overflows every detector anchor until the image is padded.
    const crop = alignFace(image, original.face!.landmarks);
    const png = await sharp(crop.data, { raw: { width: 112, height: 112, channels: 3 } })
      .png()
      .toBuffer();
    const e = await p.embed(png);
    expect(e.fallback).toBe(false);
    expect(e.padded).toBe(true);
    expect(e.facesFound).toBe(1);
    expect(dot(e.embedding, original.embedding)).toBeGreaterThan(0.95);
    const grey = await p.embed({ data: new Uint8Array(160 * 120 * 4).fill(128), width: 160, height: 120 });
    expect(grey.fallback).toBe(true);
    expect(grey.face).toBeNull();
    expect(grey.facesFound).toBe(0);
    expect(dot(grey.embedding, grey.embedding)).toBeCloseTo(1, 5);

    // `noFace: 'error'`, and the older `fallback: false` the gallery passes, throw instead.
    for (const strictness of [{ noFace: 'error' as const }, { fallback: false }]) {
      const strict = await createFacePipeline({
        detector: `scrfd:${SCRFD_500M}`,
        recognizer: `onnx:${MOBILEFACENET}`,
        threads: THREADS,
        ...strictness,
      });
      try {
        const grey2 = { data: new Uint8Array(160 * 120 * 3).fill(128), width: 160, height: 120 };
        await expect(strict.embed(grey2)).rejects.toBeInstanceOf(NoFaceError);
      } finally {
        await strict.dispose();
      }
    }
  });

  it('embedMany batches, matches embed, reports progress and isolates bad inputs', async () => {
    const inputs = [lfw('Abel_Pacheco', 1), Buffer.from('not an image'), lfw('Dean_Barker', 1)];
    const progress: number[] = [];
    const results = await p.embedMany(inputs, { batchSize: 2, onProgress: (done) => progress.push(done) });
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(progress).toEqual([2, 3]);
    const bad = results[1];
    if (bad.ok) throw new Error('unreachable');
    expect(bad.error.name).toBe('ImageError');
    const single = await p.embed(inputs[2]);
    const last = results[2];
    if (!last.ok) throw new Error(last.error.message);
    expect(dot(last.embedding, single.embedding)).toBeCloseTo(1, 6);
  });

  it('says what to pass when a spec or a model is wrong', async () => {
    await expect(createFacePipeline({ detector: 'scrfd:/nonexistent/scrfd.onnx' })).rejects.toThrow(
      /\/nonexistent\/scrfd\.onnx: file not found/,
    );
    await expect(loadDetector('retina:/x.onnx' as never)).rejects.toThrow(
      /scrfd:PATH, yunet:PATH, blazeface:back, blazeface:front/,
    );
    expect(() => parseRecognizerSpec('faceapi:resnet50')).toThrow(/faceapi:resnet34, human:faceres/);
    await expect(createFacePipeline({ detector: `scrfd:${MOBILEFACENET}` })).rejects.toThrow(
      /not an SCRFD model/,
    );
    await expect(loadDetector(`yunet:${SCRFD_500M}`)).rejects.toThrow(/not a YuNet model/);
    const detectOnly = await createFacePipeline({
      detector: `scrfd:${SCRFD_500M}`,
      recognizer: false,
      threads: THREADS,
    });
    try {
      await expect(detectOnly.embed(lfw('Abel_Pacheco', 1))).rejects.toThrow(/only detects/);
    } finally {
      await detectOnly.dispose();
    }
  });
});
