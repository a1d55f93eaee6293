/**
 * Parity of imported Human models with TF.js: the same seeded input through the converted graph in ONNX
 * Runtime and through TF.js's own GraphModel on its WASM backend; every output must agree.
 *
 * Tolerance: max |onnx - tfjs| < 1e-4 * max(1, max |tfjs|). The two runtimes sum convolutions in different
 * orders (MLAS vs XNNPACK) in float32, so the error grows with the output's magnitude: box regressions of
 * BlazeFace and mesh coordinates reach ~150 (pixels), embeddings stay below ~11. Measured errors are about
 * 1e-6 relative; a layout or padding mistake gives errors of the order of the output itself.
 */
import { describe, expect, it } from 'vitest';
import { convertTfjsGraph, loadTfjsGraph } from '../../src/import/tfjs-graph.js';
import {
  compare,
  humanModel,
  loadReference,
  runImported,
  runReference,
  seededUniform,
} from './tfjs-reference.js';

interface Case {
  readonly model: string;
  /** Outputs to compare; default: all of the graph's. */
  readonly outputs?: readonly string[];
  /** Input range the model sees in use. */
  readonly range: readonly [number, number];
  readonly batch?: number;
  /** TF.js backend of the reference (default wasm). */
  readonly backend?: 'wasm' | 'cpu';
}

const CASES: readonly Case[] = [
  // faceres: 0..255 RGB in (Human multiplies its 0..1 crop by 255); 1024-d descriptor plus age and gender heads.
  { model: 'faceres', range: [0, 255] },
  // mobileface: 0..255 in, the graph normalises; batch 2 exercises the open batch dimension.
  { model: 'mobileface', range: [0, 255], batch: 2 },
  // mobilefacenet: (x - 127.5) / 128 range.
  { model: 'mobilefacenet', range: [-1, 1] },
  // BlazeFace (back 256 and front 128) and the face mesh: x / 127 - 1 range.
  { model: 'blazeface', range: [-1, 1] },
  { model: 'blazeface-front', range: [-1, 1] },
  { model: 'facemesh', range: [-1, 1] },
  // The attention mesh (spatial transformers: Shape / StridedSlice / Pack chains folded, Atan2, GatherV2,
  // BatchMatMulV2, Tile, Range, Fill) on its 0..1 input; batch 2 exercises the batch offsets of its gathers.
  // TF.js's WASM backend has no int32 BatchMatMul, which the model's `repeat` uses: its CPU backend runs it.
  { model: 'facemesh-attention', range: [0, 1], backend: 'cpu' },
  { model: 'facemesh-attention', range: [0, 1], batch: 2, backend: 'cpu' },
];

describe('imported Human models match TF.js (wasm backend)', () => {
  for (const c of CASES) {
    it(c.model, async () => {
      const path = humanModel(c.model);
      const graph = await loadTfjsGraph(path);
      const names = c.outputs ?? graph.outputs;
      const batch = c.batch ?? 1;
      const outputs = convertTfjsGraph(graph, { outputs: names, batch });
      const spec = graph.inputs[0];
      const shape = spec.shape.map((d, i) => (i === 0 && d < 0 ? batch : d));
      const data = seededUniform(
        shape.reduce((a, b) => a * b, 1),
        7,
        c.range[0],
        c.range[1],
      );
      const ours = await runImported(outputs, spec.name, data);
      const reference = await runReference(await loadReference(path), data, shape, names, c.backend);
      names.forEach((name, i) => {
        const { maxDiff, scale } = compare(ours[name], reference[i]);
        expect(ours[name].length, name).toBe(reference[i].length);
        expect(maxDiff, `${c.model} ${name} (scale ${scale})`).toBeLessThan(1e-4 * Math.max(1, scale));
        // A non-trivial output: all zeros on both sides would pass the comparison vacuously.
        expect(scale, name).toBeGreaterThan(0);
      });
    });
  }
});
