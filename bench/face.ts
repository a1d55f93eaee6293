/**
 * Face recognition speed, end to end: ms per face for detect + align + embed, this project's default
 * pipeline (BlazeFace + face-api's ResNet-34, imported and run by ONNX Runtime) against @vladmandic/face-api
 * on TF.js's WASM backend doing its own detection (SSD MobileNet v1), 68-point landmarks and descriptor
 * (the same ResNet-34) on the same LFW images.
 *
 *   npm run bench:face [-- --images 32 --lfw ../shared/data/lfw --threads N --rounds 1 --landmarks mesh,mesh-attention]
 *
 * Images are decoded once, before timing, for both sides: decoding is the same work for either and
 * not what the comparison is about. "batch 1" runs one image at a time (a request handler's pattern);
 * "batch 32" hands all images over at once: the pipeline's `embedMany` batches the recogniser, while
 * face-api has no cross-image batching, so it processes them in turn. --landmarks adds a row per face-mesh
 * landmark source (src/face/landmarks-mesh.ts: the mesh runs on each face between detection and alignment);
 * its time over the detector row is what the mesh adds per face. Needs ../shared/data/lfw
 * (skips with a message when missing); nothing is downloaded.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { types } from 'node:util';
import sharp from 'sharp';
import { pairImages, parsePairs } from '../src/eval/pairs.js';
import { type LandmarkSource, parseLandmarkSource } from '../src/face/landmarks-mesh.js';
import { createFacePipeline } from '../src/face/pipeline.js';
import type { RgbImage } from '../src/face/types.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '32' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    threads: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    landmarks: { type: 'string', default: 'mesh,mesh-attention' },
  },
});
const count = Number(values.images);
const rounds = Math.max(1, Number(values.rounds));
const threads = values.threads ? Number(values.threads) : availableParallelism();
const pairsFile = join(values.lfw, 'pairs.txt');
const imageDir = join(values.lfw, 'lfw-deepfunneled');
if (!existsSync(pairsFile) || !existsSync(imageDir)) {
  console.log(`bench:face skipped: LFW not found at ${values.lfw} (see ../shared/data/README.md)`);
  process.exit(0);
}

const require = createRequire(import.meta.url);
const faceApiDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

// The first `count` distinct images of LFW's pairs file: real faces, a fixed and reproducible set.
const list = parsePairs(await readFile(pairsFile, 'utf8'), pairsFile);
const paths = pairImages(list)
  .paths.slice(0, count)
  .map((p) => join(imageDir, p));
const images: RgbImage[] = await Promise.all(
  paths.map(async (p) => {
    const { data, info } = await sharp(p).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  }),
);

/** What the bench drives of face-api's bundle (its own TF.js included). */
interface Tensor {
  dispose(): void;
}
interface FaceApiBundle {
  readonly tf: {
    env(): { setPlatform(name: string, platform: object): void };
    setWasmPaths(prefix: string, usePlatformFetch: boolean): void;
    setBackend(name: string): Promise<boolean>;
    getBackend(): string;
    ready(): Promise<void>;
    tensor3d(values: Uint8Array, shape: [number, number, number], dtype: 'int32'): Tensor;
    io: { decodeWeights(buffer: ArrayBuffer, specs: readonly object[]): Record<string, Tensor> };
  };
  readonly nets: Record<
    'ssdMobilenetv1' | 'faceLandmark68Net' | 'faceRecognitionNet',
    { loadFromWeightMap(map: Record<string, Tensor>): void }
  >;
  readonly SsdMobilenetv1Options: new (o: { minConfidence: number }) => object;
  detectSingleFace(
    input: Tensor,
    options: object,
  ): {
    withFaceLandmarks(): {
      withFaceDescriptor(): Promise<{ descriptor: Float32Array } | undefined>;
    };
  };
}

/**
 * face-api's browser ESM bundle in Node, on its bundled TF.js's WASM backend. The bundle's TF.js picks a
 * Node platform whose `util` import was emptied, so TextEncoder is lent for the import and the platform is
 * replaced with one on Node's APIs; its Emscripten loader expects CommonJS's `__dirname`, and fetches the
 * .wasm through the platform's fetch, which here reads the file from tfjs-backend-wasm's dist folder.
 */
async function loadFaceApi(): Promise<FaceApiBundle> {
  Object.defineProperty(Object.prototype, 'TextEncoder', { value: TextEncoder, configurable: true });
  let api: FaceApiBundle;
  try {
    api = (await import('@vladmandic/face-api/dist/face-api.esm.js')) as unknown as FaceApiBundle;
  } finally {
    delete (Object.prototype as { TextEncoder?: unknown }).TextEncoder;
  }
  api.tf.env().setPlatform('node', {
    fetch: async (url: string) =>
      new Response(await readFile(url), { headers: { 'content-type': 'application/wasm' } }),
    now: () => performance.now(),
    encode: (s: string) => new TextEncoder().encode(s),
    decode: (b: Uint8Array, encoding: string) => new TextDecoder(encoding).decode(b),
    isTypedArray: (a: unknown) =>
      types.isFloat32Array(a) ||
      types.isInt32Array(a) ||
      types.isUint8Array(a) ||
      types.isUint8ClampedArray(a),
  });
  (globalThis as { __dirname?: string }).__dirname = wasmDir;
  api.tf.setWasmPaths(`${wasmDir}/`, true);
  if (!(await api.tf.setBackend('wasm'))) throw new Error("face-api's TF.js wasm backend failed to start");
  await api.tf.ready();
  const load = async (net: keyof FaceApiBundle['nets'], file: string): Promise<void> => {
    const manifest = JSON.parse(
      await readFile(join(faceApiDir, 'model', `${file}-weights_manifest.json`), 'utf8'),
    ) as { paths: string[]; weights: object[] }[];
    const shards = await Promise.all(
      manifest.flatMap((g) => g.paths).map((p) => readFile(join(faceApiDir, 'model', p))),
    );
    const bin = Buffer.concat(shards);
    const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
    api.nets[net].loadFromWeightMap(
      api.tf.io.decodeWeights(
        buffer,
        manifest.flatMap((g) => g.weights),
      ),
    );
  };
  await load('ssdMobilenetv1', 'ssd_mobilenetv1_model');
  await load('faceLandmark68Net', 'face_landmark_68_model');
  await load('faceRecognitionNet', 'face_recognition_model');
  return api;
}

interface Row {
  readonly name: string;
  readonly batch1: number;
  readonly batch32: number;
  readonly found: number;
}

/** Best of `rounds` timings of `run` (ms per image); the machine is shared, so the minimum is the signal. */
async function time(run: () => Promise<number>): Promise<{ ms: number; found: number }> {
  let best = Infinity;
  let found = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    found = await run();
    best = Math.min(best, (performance.now() - t0) / images.length);
  }
  return { ms: best, found };
}

async function ours(
  name: string,
  nThreads: number,
  flip: boolean,
  landmarks: LandmarkSource = 'detector',
): Promise<Row> {
  const p = await createFacePipeline({ threads: nThreads, landmarks, recognition: { flip, batchSize: 32 } });
  try {
    // Warm-up: session creation and the first runs of each batch shape are not what is measured.
    await p.embed(images[0]);
    await p.embedMany(images, { batchSize: images.length });
    const one = await time(async () => {
      let found = 0;
      for (const im of images) found += (await p.embed(im)).fallback ? 0 : 1;
      return found;
    });
    const many = await time(async () => {
      const rs = await p.embedMany(images, { batchSize: images.length });
      return rs.filter((r) => r.ok && !r.fallback).length;
    });
    return { name, batch1: one.ms, batch32: many.ms, found: Math.min(one.found, many.found) };
  } finally {
    await p.dispose();
  }
}

async function faceApi(api: FaceApiBundle): Promise<Row> {
  const options = new api.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const describeOne = async (im: RgbImage): Promise<boolean> => {
    const t = api.tf.tensor3d(im.data, [im.height, im.width, 3], 'int32');
    try {
      return (await api.detectSingleFace(t, options).withFaceLandmarks().withFaceDescriptor()) !== undefined;
    } finally {
      t.dispose();
    }
  };
  await describeOne(images[0]);
  const one = await time(async () => {
    let found = 0;
    for (const im of images) found += (await describeOne(im)) ? 1 : 0;
    return found;
  });
  const many = await time(async () => (await Promise.all(images.map(describeOne))).filter(Boolean).length);
  return {
    name: `face-api ${api.tf.getBackend()} (SSD + 68 pts + ResNet-34)`,
    batch1: one.ms,
    batch32: many.ms,
    found: Math.min(one.found, many.found),
  };
}

console.log(
  `bench:face: ${images.length} LFW images (${images[0].width} x ${images[0].height}), decoded beforehand; ` +
    `best of ${rounds} round(s); ONNX Runtime threads ${threads}, TF.js wasm single-threaded`,
);
const rows: Row[] = [];
rows.push(
  await ours(`arcface-ts BlazeFace landmarks + ResNet-34, flip, ${threads} thr`, threads, true, 'detector'),
);
const variants = values.landmarks ? values.landmarks.split(',').map(parseLandmarkSource) : [];
for (const v of variants.filter((x) => x !== 'detector')) {
  rows.push(await ours(`arcface-ts ${v} landmarks + ResNet-34, flip, ${threads} thr`, threads, true, v));
}
rows.push(await ours(`arcface-ts BlazeFace landmarks, no flip, ${threads} thr`, threads, false, 'detector'));
if (threads !== 1)
  rows.push(await ours('arcface-ts BlazeFace landmarks (flip), 1 thread', 1, true, 'detector'));
const ref = await faceApi(await loadFaceApi());
rows.push(ref);

const pad = (s: string, n: number): string => s.padEnd(n);
const w = Math.max(...rows.map((r) => r.name.length));
console.log(
  `\n${pad('pipeline', w)} | batch 1 ms/face | x faster | batch 32 ms/face | x faster | faces found`,
);
console.log(`${'-'.repeat(w)}-|-----------------|----------|------------------|----------|------------`);
for (const r of rows) {
  console.log(
    `${pad(r.name, w)} | ${r.batch1.toFixed(1).padStart(15)} | ${(ref.batch1 / r.batch1).toFixed(1).padStart(8)} | ` +
      `${r.batch32.toFixed(1).padStart(16)} | ${(ref.batch32 / r.batch32).toFixed(1).padStart(8)} | ` +
      `${r.found}/${images.length}`,
  );
}
