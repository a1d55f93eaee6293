/**
 * The zoo's npm-shipped models: NCHW graphs that agree with the raw NHWC imports, their declared sizes,
 * BlazeFace decoding on a photo shipped with face-api, and (with ../shared/data) embeddings that tell
 * people apart on LFW crops.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBlazeFace } from '../../src/face/detect-blazeface.js';
import { loadImportedFaceRecognizer } from '../../src/face/embed-imported.js';
import { estimateSimilarity, warpSimilarity } from '../../src/face/align.js';
import { loadScrfd } from '../../src/face/detect-scrfd.js';
import { decodeImage } from '../../src/face/image.js';
import type { DetectedFace, Point } from '../../src/face/types.js';
import { input } from '../../src/engine/index.js';
import { convertTfjsGraph, loadTfjsGraph } from '../../src/import/tfjs-graph.js';
import { blazeFaceAnchors } from '../../src/face/blazeface-decode.js';
import { loadImportedDetector, loadImportedRecognizer } from '../../src/face/imported-graphs.js';
import { compare, humanModel, runImported, seededUniform } from '../import/tfjs-reference.js';

const require = createRequire(import.meta.url);
const sample = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
const shared = resolve('..', 'shared', 'data');
const lfw = join(shared, 'lfw', 'lfw-deepfunneled');
const scrfdPath = join(shared, 'models', 'scrfd', 'scrfd_500m.onnx');
const haveShared = existsSync(lfw) && existsSync(scrfdPath);

describe('zoo', () => {
  it('wraps a TF graph for NCHW input without changing its result', async () => {
    const zoo = await loadImportedRecognizer('human:mobileface');
    expect([zoo.model.inputSize, zoo.model.dim]).toEqual([112, 256]);
    const nchw = seededUniform(2 * 3 * 112 * 112, 5, 0, 255);
    const nhwc = new Float32Array(nchw.length);
    const plane = 112 * 112;
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < plane; p++) nhwc[(n * plane + p) * 3 + c] = nchw[(n * 3 + c) * plane + p];
      }
    }
    const ours = await runImported({ ...zoo.graph(2).outputs }, 'image', nchw);
    const raw = convertTfjsGraph(await loadTfjsGraph(humanModel('mobileface')), {
      batch: 2,
      inputs: { data: input('data', [2, 112, 112, 3]) },
    });
    const direct = await runImported(raw, 'data', nhwc);
    const { maxDiff, scale } = compare(ours.embedding, direct['batchnorm0/add_1']);
    expect(scale).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(1e-5 * scale);
  });

  it('rejects unknown names, listing the known ones', async () => {
    await expect(loadImportedRecognizer('human:nope')).rejects.toThrow(/human:faceres/);
    await expect(loadImportedDetector('blazeface:side')).rejects.toThrow(/blazeface:back/);
  });

  it('lays out BlazeFace anchors as Human does', () => {
    const a = blazeFaceAnchors(256);
    expect(a.length).toBe(896 * 2);
    expect(Array.from(a.slice(0, 4))).toEqual([8, 8, 8, 8]);
    // First anchor of the 32-px grid, after 16 x 16 x 2 anchors of the 16-px grid.
    expect(Array.from(a.slice(1024, 1026))).toEqual([16, 16]);
  });

  it('finds the faces in a face-api demo photo with BlazeFace', async () => {
    const detector = await loadBlazeFace('back', { threads: 2 });
    const image = await decodeImage(sample);
    const faces = await detector.detect(image);
    await detector.dispose();
    expect(faces.length).toBeGreaterThanOrEqual(2);
    for (const f of faces) {
      const [le, re, nose, ml, mr] = f.landmarks;
      expect(le[0]).toBeLessThan(re[0]);
      expect(nose[1]).toBeGreaterThan((le[1] + re[1]) / 2);
      expect(ml[1]).toBeGreaterThan(nose[1]);
      expect(ml[0]).toBeLessThan(mr[0]);
      for (const [x, y] of f.landmarks) {
        expect(x).toBeGreaterThan(f.box.x1);
        expect(x).toBeLessThan(f.box.x2);
        expect(y).toBeGreaterThan(f.box.y1);
        expect(y).toBeLessThan(f.box.y2);
      }
    }
  });

  describe.skipIf(!haveShared)('on LFW (../shared/data)', () => {
    const people = [
      'George_W_Bush/George_W_Bush_0001',
      'George_W_Bush/George_W_Bush_0002',
      'Colin_Powell/Colin_Powell_0001',
    ];

    async function faces(): Promise<
      { image: Awaited<ReturnType<typeof decodeImage>>; face: DetectedFace }[]
    > {
      const scrfd = await loadScrfd(scrfdPath, { threads: 2 });
      const out = [];
      for (const p of people) {
        const image = await decodeImage(join(lfw, `${p}.jpg`));
        const [face] = await scrfd.detect(image);
        out.push({ image, face });
      }
      await scrfd.dispose();
      return out;
    }

    it('BlazeFace landmarks land near SCRFD landmarks', async () => {
      const detector = await loadBlazeFace('back', { threads: 2 });
      for (const { image, face } of await faces()) {
        const [bf] = await detector.detect(image);
        const eyes = Math.hypot(
          face.landmarks[1][0] - face.landmarks[0][0],
          face.landmarks[1][1] - face.landmarks[0][1],
        );
        const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
        // Eyes and nose within a quarter of the eye distance (mouth corners are estimated, so looser).
        for (let i = 0; i < 3; i++)
          expect(dist(bf.landmarks[i], face.landmarks[i])).toBeLessThan(0.25 * eyes);
        for (let i = 3; i < 5; i++) expect(dist(bf.landmarks[i], face.landmarks[i])).toBeLessThan(0.5 * eyes);
      }
      await detector.dispose();
    });

    for (const name of ['human:faceres', 'human:mobileface', 'faceapi:resnet34']) {
      it(`${name} scores the same person above a different one`, async () => {
        const rec = await loadImportedFaceRecognizer(name, { threads: 2 });
        const crops = (await faces()).map(({ image, face }) =>
          warpSimilarity(
            image,
            estimateSimilarity(face.landmarks, rec.template),
            rec.inputSize.width,
            rec.inputSize.height,
          ),
        );
        const [a, b, c] = await rec.embed(crops);
        await rec.dispose();
        const cos = (x: Float32Array, y: Float32Array): number => x.reduce((s, v, i) => s + v * y[i], 0);
        expect(a.length).toBe(rec.dim);
        expect(cos(a, a)).toBeCloseTo(1, 5);
        expect(cos(a, b)).toBeGreaterThan(cos(a, c) + 0.05);
      });
    }
  });
});
