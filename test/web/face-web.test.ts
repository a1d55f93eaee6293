/**
 * The web page's face models and pipeline, checked in Node: the files `arcface web` writes (the importer's
 * BlazeFace and face-api ResNet-34 as .onnx, and their manifest), opened through createWebFacePipeline as
 * the page opens them, give the default pipeline's (the CLI's) similarities and decisions on LFW pairs.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FacePipeline, createFacePipeline } from '../../src/face/pipeline.js';
import { faceModelFiles } from '../../src/web/face-models.js';
import { FACE_MANIFEST_FILE, FaceModelError, createWebFacePipeline } from '../../src/web/face-web.js';
import { LFW_DIR, lfw } from '../face/data.js';

describe('face model files for the page', () => {
  let files: Map<string, Uint8Array>;
  beforeAll(async () => {
    files = await faceModelFiles();
  }, 120_000);

  it('names the default detector and recogniser with the graph batch the page runs', () => {
    const manifest = JSON.parse(new TextDecoder().decode(files.get(FACE_MANIFEST_FILE))) as {
      detector: { spec: string; file: string };
      recognizer: { spec: string; file: string; batch: number };
    };
    expect(manifest.detector.spec).toBe('blazeface:back');
    expect(manifest.recognizer).toMatchObject({ spec: 'faceapi:resnet34', batch: 2 });
    // ONNX protobufs: non-trivial sizes (ResNet-34's weights are about 22 MB).
    expect(files.get(manifest.detector.file)?.length).toBeGreaterThan(100_000);
    expect(files.get(manifest.recognizer.file)?.length).toBeGreaterThan(20_000_000);
  });

  it('says which file is missing', async () => {
    const err = await createWebFacePipeline((name) => {
      if (name === FACE_MANIFEST_FILE) return Promise.resolve(files.get(name) as Uint8Array);
      return Promise.reject(new Error('HTTP 404'));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceModelError);
    expect((err as Error).message).toMatch(/blazeface-back\.onnx did not load \(HTTP 404\)/);
    const bad = await createWebFacePipeline(() => Promise.resolve(new TextEncoder().encode('{}'))).catch(
      (e: unknown) => e,
    );
    expect((bad as Error).message).toBe(`${FACE_MANIFEST_FILE} is not a face model manifest`);
  });

  describe.skipIf(!existsSync(LFW_DIR))('on LFW pairs', () => {
    let web: FacePipeline;
    let node: FacePipeline;
    beforeAll(async () => {
      web = (
        await createWebFacePipeline((name) => {
          const bytes = files.get(name);
          return bytes ? Promise.resolve(bytes) : Promise.reject(new Error('missing'));
        })
      ).pipeline;
      node = await createFacePipeline();
    }, 120_000);
    afterAll(async () => {
      await web?.dispose();
      await node?.dispose();
    });

    it('gives the default pipeline similarities and decisions at the calibrated threshold', async () => {
      const pairs: [string, string][] = [
        [lfw('Abel_Pacheco', 1), lfw('Abel_Pacheco', 4)],
        [lfw('Akhmed_Zakayev', 1), lfw('Akhmed_Zakayev', 3)],
        [lfw('Abel_Pacheco', 1), lfw('Akhmed_Zakayev', 3)],
      ];
      for (const [a, b] of pairs) {
        const w = await web.verify(a, b);
        const n = await node.verify(a, b);
        expect(w.threshold).toBe(0.913);
        expect(w.threshold).toBe(n.threshold);
        expect(w.same).toBe(n.same);
        expect(Math.abs(w.similarity - n.similarity), `${a} vs ${b}`).toBeLessThan(1e-6);
      }
    }, 120_000);
  });
});
