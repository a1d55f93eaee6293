/**
 * The op table against TF.js on a small hand-built graph: every converted op (strided convs with 'SAME'
 * padding, fused activations, pools, slicing with masks, mirror padding, reductions, matmuls), weights
 * stored as float32 and quantised (uint8, uint16, float16), and the error for an op the table lacks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertTfjsGraph, loadTfjsGraph } from '../../src/import/tfjs-graph.js';
import type { TfAttrValue, TfNode, TfWeightEntry } from '../../src/import/tfjs-format.js';
import { halfToFloat } from '../../src/import/tfjs-weights.js';
import { atan2 } from '../../src/import/tf-ops/math.js';
import { Program, input } from '../../src/engine/index.js';
import { compare, loadReference, runImported, runReference, seededUniform } from './tfjs-reference.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const ints = (v: readonly number[]): TfAttrValue => ({ list: { i: v.map(String) } });
const str = (s: string): TfAttrValue => ({ s: b64(s) });
const T: Record<string, TfAttrValue> = { T: { type: 'DT_FLOAT' } };

/** Builds a graph model.json and its weights, quantising weights as asked. */
class GraphBuilder {
  readonly nodes: TfNode[] = [];
  readonly weights: TfWeightEntry[] = [];
  private readonly bytes: Buffer[] = [];
  private seed = 100;

  op(name: string, op: string, input: readonly string[], attr: Record<string, TfAttrValue> = {}): string {
    this.nodes.push({ name, op, input, attr: { ...T, ...attr } });
    return name;
  }

  /** A float weight of random values, stored as `storage`. */
  weight(
    name: string,
    shape: readonly number[],
    storage: 'float32' | 'uint8' | 'uint16' | 'float16' = 'float32',
    lo = -1,
    hi = 1,
  ): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = seededUniform(n, this.seed++, lo, hi);
    if (storage === 'float32') {
      this.bytes.push(Buffer.from(v.buffer.slice(0)));
      this.weights.push({ name, shape, dtype: 'float32' });
    } else if (storage === 'float16') {
      const out = Buffer.alloc(2 * n);
      v.forEach((x, i) => out.writeUInt16LE(floatToHalf(x), 2 * i));
      this.bytes.push(out);
      this.weights.push({ name, shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    } else {
      const levels = storage === 'uint8' ? 255 : 65535;
      const scale = (hi - lo) / levels;
      const out = Buffer.alloc((storage === 'uint8' ? 1 : 2) * n);
      v.forEach((x, i) => {
        const q = Math.round((x - lo) / scale);
        if (storage === 'uint8') out.writeUInt8(q, i);
        else out.writeUInt16LE(q, 2 * i);
      });
      this.bytes.push(out);
      this.weights.push({ name, shape, dtype: 'float32', quantization: { dtype: storage, scale, min: lo } });
    }
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } });
    return name;
  }

  int32(name: string, values: readonly number[], shape: readonly number[] = [values.length]): string {
    this.bytes.push(Buffer.from(Int32Array.from(values).buffer));
    this.weights.push({ name, shape, dtype: 'int32' });
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: 'DT_INT32' } } });
    return name;
  }

  async write(dir: string): Promise<string> {
    const json = {
      format: 'graph-model',
      modelTopology: { node: this.nodes, versions: { producer: 1 } },
      weightsManifest: [{ paths: ['w.bin'], weights: this.weights }],
    };
    await writeFile(join(dir, 'w.bin'), Buffer.concat(this.bytes));
    const path = join(dir, 'model.json');
    await writeFile(path, JSON.stringify(json));
    return path;
  }
}

/** Round-to-nearest float32 -> half (normal range only, enough for weights in [-1, 1]). */
function floatToHalf(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return m === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | m;
}

function buildGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const conv = { padding: str('SAME'), data_format: str('NHWC'), dilations: ints([1, 1, 1, 1]) };
  g.nodes.push({
    name: 'x',
    op: 'Placeholder',
    attr: {
      dtype: { type: 'DT_FLOAT' },
      shape: { shape: { dim: [-1, 9, 9, 4].map((d) => ({ size: String(d) })) } },
    },
  });
  // Strided 'SAME' convs on an odd size: TF pads the odd pixel after.
  g.op('n_c1', 'Conv2D', ['x', g.weight('w1', [3, 3, 4, 6], 'uint8')], {
    ...conv,
    strides: ints([1, 2, 2, 1]),
  });
  g.op('n_c2', '_FusedConv2D', ['n_c1', g.weight('w2', [2, 2, 6, 6], 'uint16'), g.weight('b2', [6])], {
    ...conv,
    strides: ints([1, 2, 2, 1]),
    fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } },
    num_args: { i: '1' },
  });
  // Depthwise with a channel multiplier of 2, fused with a Prelu.
  g.op(
    'n_d1',
    'FusedDepthwiseConv2dNative',
    [
      'x',
      g.weight('dw', [3, 3, 4, 2], 'float16'),
      g.weight('db', [8]),
      g.weight('pa', [8], 'float32', 0, 0.5),
    ],
    {
      ...conv,
      strides: ints([1, 1, 1, 1]),
      fused_ops: { list: { s: [b64('BiasAdd'), b64('Prelu')] } },
      num_args: { i: '2' },
    },
  );
  g.op('n_d2', 'DepthwiseConv2dNative', ['n_d1', g.weight('dw2', [3, 3, 8, 1])], {
    ...conv,
    strides: ints([1, 2, 2, 1]),
  });
  g.op('n_d3', 'LeakyRelu', ['n_d2'], { alpha: { f: 0.1 } });
  const pool = { data_format: str('NHWC'), ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]) };
  g.op('n_p1', 'MaxPool', ['n_d1'], { ...pool, padding: str('SAME') });
  g.op('n_p2', 'AvgPool', ['n_d1'], { ...pool, padding: str('SAME') });
  g.op('n_p3', 'AddV2', ['n_p1', 'n_p2']);
  g.op('n_p4', 'Elu', ['n_p3']);
  // Padding and slicing.
  g.op('n_m1', 'MirrorPad', ['x', g.int32('mp1', [0, 0, 2, 1, 1, 2, 0, 0], [4, 2])], {
    mode: str('REFLECT'),
  });
  g.op('n_m2', 'MirrorPad', ['n_m1', g.int32('mp2', [0, 0, 1, 2, 2, 0, 0, 0], [4, 2])], {
    mode: str('SYMMETRIC'),
  });
  g.op('n_m3', 'PadV2', [
    'n_m2',
    g.int32('pp', [0, 0, 1, 0, 0, 1, 0, 0], [4, 2]),
    g.weight('pv', [], 'float32'),
  ]);
  g.op(
    'n_s1',
    'StridedSlice',
    ['n_m3', g.int32('sb', [0, -2, 1, 0]), g.int32('se', [0, 1, 9, 3]), g.int32('ss', [1, -2, 3, 1])],
    {
      begin_mask: { i: '1' },
      end_mask: { i: '1' },
    },
  );
  g.op(
    'n_s2',
    'StridedSlice',
    ['n_s1', g.int32('sb2', [0, 1]), g.int32('se2', [0, 2]), g.int32('ss2', [1, 1])],
    {
      ellipsis_mask: { i: '1' },
      shrink_axis_mask: { i: '2' },
    },
  );
  g.op('n_s3', 'Slice', ['n_m2', g.int32('lb', [0, 1, 0, 1]), g.int32('ls', [-1, 3, -1, 2])]);
  g.op('n_s4', 'Sigmoid', ['n_s3']);
  // Reductions, shape ops and matmuls.
  g.op('n_r1', 'Mean', ['n_c2', g.int32('ax12', [1, 2])], { keep_dims: { b: false } });
  g.op('n_r2', 'Max', ['n_c1', g.int32('ax1', [1])], { keep_dims: { b: true } });
  g.op('n_r3', 'Sum', ['n_r2', g.int32('ax2', [-3])], { keep_dims: { b: false } });
  g.op('n_r4', 'Square', ['n_r3']);
  g.op('n_r5', 'Rsqrt', [g.op('n_r4b', 'AddV2', ['n_r4', g.weight('one', [], 'float32', 1, 1.5)])]);
  g.op('n_t1', 'Transpose', ['n_r5', g.int32('perm', [0, 2, 1])]);
  g.op('n_t2', 'Reshape', ['n_t1', g.int32('shape', [-1, 30])]);
  g.op('n_t3', '_FusedMatMul', ['n_t2', g.weight('mm', [5, 30]), g.weight('mb', [5])], {
    transpose_a: { b: false },
    transpose_b: { b: true },
    fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } },
    num_args: { i: '1' },
  });
  g.op('n_t4', 'MatMul', ['n_r1', g.weight('mm2', [6, 5])], {
    transpose_a: { b: false },
    transpose_b: { b: false },
  });
  g.op('n_t5', 'Pack', ['n_t3', 'n_t4'], { axis: { i: '1' }, N: { i: '2' } });
  g.op('n_t6', 'ConcatV2', ['n_t5', 'n_t5', g.int32('cax', [-1], [])], { N: { i: '2' } });
  g.op('n_t7', 'ExpandDims', ['n_t6', g.int32('edim', [1], [])]);
  g.op('n_t8', 'Squeeze', ['n_t7'], { squeeze_dims: ints([1]) });
  g.op('n_t9', 'Softmax', [g.op('n_t8b', 'RealDiv', ['n_t8', g.weight('temp', [], 'float32', 2, 3)])]);
  g.op('n_t10', 'Tanh', [
    g.op('n_t9b', 'Sub', [
      'n_t9',
      g.op('n_t9c', 'Minimum', ['n_t9', g.weight('cap', [], 'float32', 0.2, 0.3)]),
    ]),
  ]);
  g.op('n_t11', 'Cast', [g.op('n_t11a', 'Cast', ['n_d3'], { DstT: { type: 'DT_INT32' } })], {
    DstT: { type: 'DT_FLOAT' },
  });
  g.op('n_t12', 'Maximum', ['n_t11', g.op('n_t12a', 'Sqrt', [g.op('n_t12b', 'Relu', ['n_d3'])])]);
  return g;
}

const OUTPUTS = ['n_c2', 'n_d3', 'n_p4', 'n_s2', 'n_s4', 'n_t10', 'n_t12'];

/**
 * The ops of Keras exports that compute shapes at run time (the attention face mesh's spatial transformers):
 * Shape -> StridedSlice -> Pack into a Reshape, Range, ExpandDims / ConcatV2 into Tile's multiples, Fill,
 * ZerosLike, an int32 MatMul of constants, GatherV2 with computed indices, Atan2 in all four quadrants, Cos,
 * Sin, Floor, comparisons, LogicalAnd, Min and BatchMatMulV2 with adj_x / adj_y.
 */
function buildDynamicGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const I = { T: { type: 'DT_INT32' } };
  g.nodes.push({
    name: 'x',
    op: 'Placeholder',
    attr: {
      dtype: { type: 'DT_FLOAT' },
      shape: { shape: { dim: [-1, 6, 5, 3].map((d) => ({ size: String(d) })) } },
    },
  });
  const one = (name: string, k: number): string => g.int32(name, [k]);
  const scalar = (name: string, v: number): string => g.int32(name, [v], []);
  const dim = (name: string, i: number): string =>
    g.op(
      name,
      'StridedSlice',
      [
        g.op(`${name}_s`, 'Shape', ['x'], { out_type: { type: 'DT_INT32' } }),
        one(`${name}_b`, i),
        one(`${name}_e`, i + 1),
        one(`${name}_st`, 1),
      ],
      {
        ...I,
        shrink_axis_mask: { i: '1' },
      },
    );
  // Reshape to [batch, 30, 3] with the batch read from Shape.
  const batch = dim('batch', 0);
  g.op('d_r', 'Reshape', [
    'x',
    g.op('d_rs', 'Pack', [batch, scalar('c30', 30), scalar('c3', 3)], { ...I, axis: { i: '0' } }),
  ]);
  // Range over the height, cast to float, added per row.
  const rows = g.op('d_rg', 'Range', [scalar('r0', 0), dim('height', 1), scalar('r1', 1)], {
    Tidx: { type: 'DT_INT32' },
  });
  const rowsF = g.op('d_rf', 'Cast', [rows], { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_FLOAT' } });
  g.op('d_y1', 'AddV2', ['x', g.op('d_rr', 'Reshape', [rowsF, g.int32('rshape', [1, 6, 1, 1])])]);
  // Tile with multiples [1, 1, channels, 1] built from ExpandDims and ConcatV2.
  const mult = g.op(
    'd_mult',
    'ConcatV2',
    [
      g.int32('m11', [1, 1]),
      g.op('d_me', 'ExpandDims', [dim('chan', 3), scalar('m0', 0)], I),
      one('m1', 1),
      scalar('max', 0),
    ],
    { ...I, N: { i: '3' } },
  );
  g.op('d_tile', 'Tile', ['x', mult], { Tmultiples: { type: 'DT_INT32' } });
  // Fill and ZerosLike.
  g.op('d_fill', 'AddV2', [
    g.op('d_f', 'Fill', [
      g.op('d_fs', 'Shape', ['x'], { out_type: { type: 'DT_INT32' } }),
      g.weight('half', [], 'float32', 0.5, 0.5),
    ]),
    g.op('d_z', 'ZerosLike', ['x']),
  ]);
  // An int32 MatMul of constants (Keras's repeat), cast to float.
  const col = g.op(
    'd_col',
    'Reshape',
    [
      g.op('d_rg4', 'Range', [scalar('q0', 0), scalar('q4', 4), scalar('q1', 1)], {
        Tidx: { type: 'DT_INT32' },
      }),
      g.int32('cshape', [4, 1]),
    ],
    I,
  );
  g.op(
    'd_rep',
    'Cast',
    [
      g.op('d_mm', 'MatMul', [col, g.int32('ones', [1, 1, 1], [1, 3])], {
        ...I,
        transpose_a: { b: false },
        transpose_b: { b: false },
      }),
    ],
    {
      SrcT: { type: 'DT_INT32' },
      DstT: { type: 'DT_FLOAT' },
    },
  );
  // Trigonometry: atan2 of x against x scaled by weights of both signs covers the four quadrants.
  const at = g.op('d_at', 'Atan2', ['x', g.op('d_xw', 'Mul', ['x', g.weight('aw', [3], 'float32', -1, 1)])]);
  g.op('d_trig', 'AddV2', [g.op('d_cos', 'Cos', [at]), g.op('d_sin', 'Sin', ['x'])]);
  // Floor, comparisons and LogicalAnd.
  const inBand = g.op('d_and', 'LogicalAnd', [
    g.op('d_le', 'LessEqual', ['x', g.weight('hi', [], 'float32', 0.5, 0.5)]),
    g.op('d_ge', 'GreaterEqual', ['x', g.weight('lo', [], 'float32', -0.5, -0.5)]),
  ]);
  g.op('d_band', 'AddV2', [
    g.op('d_bandf', 'Cast', [inBand], { SrcT: { type: 'DT_BOOL' }, DstT: { type: 'DT_FLOAT' } }),
    g.op('d_floor', 'Floor', [g.op('d_x3', 'Mul', ['x', g.weight('three', [], 'float32', 3, 3)])]),
  ]);
  g.op('d_min', 'Min', ['x', g.int32('minax', [1, 2])], { keep_dims: { b: false } });
  // GatherV2 of rows by indices computed from the input: floor(sigmoid(x) * 29.99) in 0..29.
  const flat = g.op('d_flat', 'Reshape', ['x', g.int32('fshape', [-1, 3])]);
  const first = g.op(
    'd_first',
    'StridedSlice',
    [flat, g.int32('gb', [0, 0]), g.int32('ge', [0, 1]), g.int32('gs', [1, 1])],
    {
      begin_mask: { i: '1' },
      end_mask: { i: '1' },
      shrink_axis_mask: { i: '2' },
    },
  );
  const idx = g.op(
    'd_idx',
    'Cast',
    [
      g.op('d_idxf', 'Floor', [
        g.op('d_idxm', 'Mul', [
          g.op('d_sg', 'Sigmoid', [first]),
          g.weight('k30', [], 'float32', 29.99, 29.99),
        ]),
      ]),
    ],
    {
      SrcT: { type: 'DT_FLOAT' },
      DstT: { type: 'DT_INT32' },
    },
  );
  g.op('d_gather', 'GatherV2', [flat, idx, scalar('gax', 0)], {
    Tindices: { type: 'DT_INT32' },
    Tparams: { type: 'DT_FLOAT' },
    batch_dims: { i: '0' },
  });
  // BatchMatMulV2 with adj_y (weights [4, 3]) and adj_x (x's rows against themselves).
  g.op('d_bmm', 'BatchMatMulV2', ['d_r', g.weight('bw', [4, 3])], {
    adj_x: { b: false },
    adj_y: { b: true },
  });
  g.op('d_bmm2', 'BatchMatMulV2', ['d_r', 'd_r'], { adj_x: { b: true }, adj_y: { b: false } });
  return g;
}

const DYNAMIC_OUTPUTS = [
  'd_r',
  'd_y1',
  'd_tile',
  'd_fill',
  'd_rep',
  'd_trig',
  'd_band',
  'd_min',
  'd_gather',
  'd_bmm',
  'd_bmm2',
];

describe('TF op table', () => {
  let dir: string;
  let path: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tfjs-ops-'));
    path = await buildGraph().write(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('matches TF.js on every converted op, quantised weights included', async () => {
    const graph = await loadTfjsGraph(path);
    const outputs = convertTfjsGraph(graph, { outputs: OUTPUTS, batch: 2 });
    const data = seededUniform(2 * 9 * 9 * 4, 3, -2, 2);
    const ours = await runImported(outputs, 'x', data);
    const reference = await runReference(await loadReference(path), data, [2, 9, 9, 4], OUTPUTS);
    OUTPUTS.forEach((name, i) => {
      expect(ours[name].length, name).toBe(reference[i].length);
      const { maxDiff, scale } = compare(ours[name], reference[i]);
      expect(scale, name).toBeGreaterThan(0);
      // Cast to int32 truncates: values within float error of an integer may round either way.
      expect(maxDiff, name).toBeLessThan(name === 'n_t12' ? 1.0001 : 1e-4 * Math.max(1, scale));
    });
    // Rows 14, 12, ..., 2 (negative stride), columns 1, 4, 7, channel 1 (shrunk after the ellipsis).
    expect(outputs.n_s2.shape).toEqual([2, 7, 3]);
  });

  it('matches TF.js on the run-time shape ops, folded to constants', async () => {
    const dynDir = await mkdtemp(join(tmpdir(), 'tfjs-dyn-'));
    try {
      const dynPath = await buildDynamicGraph().write(dynDir);
      const graph = await loadTfjsGraph(dynPath);
      const outputs = convertTfjsGraph(graph, { outputs: DYNAMIC_OUTPUTS, batch: 2 });
      // Shape chains became static shapes.
      expect(outputs.d_r.shape).toEqual([2, 30, 3]);
      expect(outputs.d_tile.shape).toEqual([2, 6, 15, 3]);
      expect(outputs.d_bmm2.shape).toEqual([2, 3, 3]);
      const data = seededUniform(2 * 6 * 5 * 3, 11, -2, 2);
      const ours = await runImported(outputs, 'x', data);
      // TF.js's WASM backend has no int32 MatMul: the reference runs on its CPU backend.
      const reference = await runReference(
        await loadReference(dynPath),
        data,
        [2, 6, 5, 3],
        DYNAMIC_OUTPUTS,
        'cpu',
      );
      DYNAMIC_OUTPUTS.forEach((name, i) => {
        expect(ours[name].length, name).toBe(reference[i].length);
        const { maxDiff, scale } = compare(ours[name], reference[i]);
        expect(scale, name).toBeGreaterThan(0);
        expect(maxDiff, name).toBeLessThan(1e-5 * Math.max(1, scale));
      });
      // Keras's repeat: row r of [0..3] repeated 3 times.
      expect(Array.from(ours.d_rep)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    } finally {
      await rm(dynDir, { recursive: true, force: true });
    }
  });

  it('computes atan2 as Math.atan2 does in every quadrant and on the axes', async () => {
    const angles = Array.from({ length: 73 }, (_, i) => -Math.PI + (i * 2 * Math.PI) / 72);
    const ys = [...angles.map((a) => 3 * Math.sin(a)), 0, 0, 0, 1e-7, -1e-7];
    const xs = [...angles.map((a) => 3 * Math.cos(a)), 0, 2, -2, -1, -1];
    const y = input('y', [ys.length]);
    const x = input('x', [xs.length]);
    const program = await Program.compile({ outputs: { a: atan2(y, x) } }, { threads: 1 });
    const out = (await program.run({ y: Float32Array.from(ys), x: Float32Array.from(xs) })).a as Float32Array;
    ys.forEach((v, i) => {
      const want = Math.atan2(Math.fround(v), Math.fround(xs[i]));
      // -pi and pi are the same angle: TF (and Math.atan2) give pi for y = +0, x < 0.
      const diff = Math.abs(out[i] - want);
      expect(Math.min(diff, Math.abs(diff - 2 * Math.PI)), `atan2(${v}, ${xs[i]})`).toBeLessThan(2e-6);
      expect(Math.abs(out[i]), `atan2(${v}, ${xs[i]}) in [-pi, pi]`).toBeLessThanOrEqual(Math.PI + 1e-6);
    });
  });

  it('names an unsupported op and its node', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/tfjs-unknown-op/model.json', import.meta.url));
    const graph = await loadTfjsGraph(fixture);
    expect(graph.outputs).toEqual(['Identity']);
    expect(() => convertTfjsGraph(graph)).toThrow(/Erf 'block\/erf': unsupported TF op 'Erf'/);
    // The part of the graph before the unknown op converts: only what an output needs is walked.
    const partial = convertTfjsGraph(graph, { outputs: ['shifted'] });
    const out = await runImported(partial, 'x', Float32Array.from([1, 2]));
    expect(Array.from(out.shifted)).toEqual([1.5, 0.5]);
  });

  it('decodes half floats', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(floatToHalf(0.1))).toBeCloseTo(0.1, 3);
  });
});
