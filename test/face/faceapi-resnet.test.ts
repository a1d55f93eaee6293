/**
 * face-api's ResNet-34 descriptor, written with engine ops, against face-api itself: its bundled ESM build
 * (which carries its own TF.js) computing `computeFaceDescriptor` on the same seeded 150 x 150 image, on the
 * bundle's CPU backend. This file runs in its own process (vitest forks), so the bundle's TF.js does not
 * meet the tfjs-core of the other parity tests.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { types } from 'node:util';
import { describe, expect, it } from 'vitest';
import { input } from '../../src/engine/index.js';
import { FACEAPI_INPUT_SIZE, faceApiResNet34, loadFaceApiWeights } from '../../src/face/faceapi-resnet.js';
import { compare, runImported, seededUniform } from '../import/tfjs-reference.js';

const require = createRequire(import.meta.url);
const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const manifestPath = join(modelDir, 'face_recognition_model-weights_manifest.json');

/** The subset of face-api's bundle the test drives. */
interface FaceApiBundle {
  readonly tf: {
    env(): { setPlatform(name: string, platform: object): void };
    setBackend(name: string): Promise<boolean>;
    tensor3d(values: Float32Array, shape: [number, number, number]): unknown;
    io: { decodeWeights(buffer: ArrayBuffer, specs: readonly object[]): Record<string, unknown> };
  };
  readonly FaceRecognitionNet: new () => {
    loadFromWeightMap(map: Record<string, unknown>): void;
    computeFaceDescriptor(input: unknown): Promise<Float32Array>;
  };
}

/**
 * Import face-api's browser bundle in Node. Its TF.js picks a Node platform whose `util` import the bundler
 * emptied, so the import borrows TextEncoder for the constructor and the platform is then replaced with
 * one built on Node's own APIs.
 */
async function importFaceApi(): Promise<FaceApiBundle> {
  Object.defineProperty(Object.prototype, 'TextEncoder', { value: TextEncoder, configurable: true });
  let bundle: FaceApiBundle;
  try {
    bundle = (await import('@vladmandic/face-api/dist/face-api.esm.js')) as unknown as FaceApiBundle;
  } finally {
    delete (Object.prototype as { TextEncoder?: unknown }).TextEncoder;
  }
  bundle.tf.env().setPlatform('node', {
    fetch: (url: string, init?: RequestInit) => fetch(url, init),
    now: () => performance.now(),
    encode: (s: string) => new TextEncoder().encode(s),
    decode: (b: Uint8Array, encoding: string) => new TextDecoder(encoding).decode(b),
    isTypedArray: (a: unknown) =>
      types.isFloat32Array(a) ||
      types.isInt32Array(a) ||
      types.isUint8Array(a) ||
      types.isUint8ClampedArray(a),
  });
  if (!(await bundle.tf.setBackend('cpu'))) throw new Error("face-api's TF.js cpu backend failed");
  return bundle;
}

describe('face-api ResNet-34 descriptor', () => {
  it('matches face-api computeFaceDescriptor', async () => {
    const size = FACEAPI_INPUT_SIZE;
    const hwc = seededUniform(size * size * 3, 11, 0, 255);
    const chw = new Float32Array(hwc.length);
    for (let p = 0; p < size * size; p++)
      for (let c = 0; c < 3; c++) chw[c * size * size + p] = hwc[p * 3 + c];

    const weights = await loadFaceApiWeights(manifestPath);
    const image = input('image', [1, 3, size, size]);
    const ours = (await runImported({ descriptor: faceApiResNet34(weights, image) }, 'image', chw))
      .descriptor;

    const faceapi = await importFaceApi();
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { weights: object[] }[];
    const bin = await readFile(join(modelDir, 'face_recognition_model.bin'));
    const map = faceapi.tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      manifest.flatMap((g) => g.weights),
    );
    const net = new faceapi.FaceRecognitionNet();
    net.loadFromWeightMap(map);
    const reference = await net.computeFaceDescriptor(faceapi.tf.tensor3d(hwc, [size, size, 3]));

    expect(ours.length).toBe(128);
    const { maxDiff, scale } = compare(ours, reference);
    expect(scale).toBeGreaterThan(0.01);
    expect(maxDiff).toBeLessThan(1e-4 * Math.max(1, scale));
  });
});
