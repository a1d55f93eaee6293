/**
 * Releasing face models: a pipeline, a detector and a recogniser can each be disposed twice without an
 * error, and using one after dispose fails with a message instead of crashing in ONNX Runtime.
 */
import { describe, expect, it } from 'vitest';
import { SessionDisposedError } from '../../src/engine/session.js';
import { decodeImage } from '../../src/face/image.js';
import { createFacePipeline } from '../../src/face/pipeline.js';
import { loadDetector, loadRecognizer } from '../../src/face/zoo.js';
import { GROUP_PHOTO, MOBILEFACENET, SCRFD_500M, YUNET_N, haveSamplePhotos, haveSharedData } from './data.js';

const crop = { data: new Uint8Array(112 * 112 * 3).fill(128), width: 112, height: 112 };

describe.skipIf(!haveSamplePhotos())('dispose (npm-shipped models)', () => {
  it('a pipeline disposed twice does not throw, and cannot detect afterwards', async () => {
    const p = await createFacePipeline({ threads: 1 });
    const found = await p.detect(GROUP_PHOTO);
    expect(found.faces.length).toBeGreaterThan(0);
    await p.dispose();
    await expect(p.dispose()).resolves.toBeUndefined();
    await expect(p.detect(GROUP_PHOTO)).rejects.toThrow(SessionDisposedError);
  });

  it('an npm-shipped recogniser disposed twice does not throw, and cannot embed afterwards', async () => {
    const rec = await loadRecognizer('human:mobileface', { threads: 1, flip: false });
    expect((await rec.embed([crop]))[0]).toHaveLength(256);
    await Promise.all([rec.dispose(), rec.dispose()]);
    await expect(rec.dispose()).resolves.toBeUndefined();
    await expect(rec.embed([crop])).rejects.toThrow(/human:mobileface: the recogniser was disposed/);
  });
});

describe.skipIf(!haveSharedData())('dispose (ONNX files in ../shared/data)', () => {
  for (const spec of [`scrfd:${SCRFD_500M}`, `yunet:${YUNET_N}`] as const) {
    it(`${spec.split(':')[0]} detector disposed twice does not throw`, async () => {
      const d = await loadDetector(spec, { threads: 1 });
      const image = await decodeImage(GROUP_PHOTO);
      expect((await d.detect(image)).length).toBeGreaterThan(0);
      await d.dispose();
      await expect(d.dispose()).resolves.toBeUndefined();
      await expect(d.detect(image)).rejects.toThrow(SessionDisposedError);
    });
  }

  it('an ONNX recogniser disposed twice does not throw', async () => {
    const rec = await loadRecognizer(`onnx:${MOBILEFACENET}`, { threads: 1 });
    await rec.dispose();
    await expect(rec.dispose()).resolves.toBeUndefined();
    await expect(rec.embed([crop])).rejects.toThrow(SessionDisposedError);
  });
});
