/**
 * Constant folding on the host. Graphs exported from Keras compute shapes at run time (Shape, StridedSlice of
 * it, Pack into a Reshape's shape, Range over a dimension); the engine's shapes are static, so these chains
 * are evaluated while converting, and the ops that need their values (Reshape, Tile, Fill, Range) read them
 * as constants. Only the small integer and float arithmetic such chains use is folded here.
 */
import type { HostTensor } from '../tfjs-weights.js';
import type { OpContext, TfOpConverter } from './context.js';

type Dtype = HostTensor['dtype'];

export const sizeOfShape = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A host tensor of `dtype` holding `values`. */
export function hostTensor(dtype: Dtype, shape: readonly number[], values: ArrayLike<number>): HostTensor {
  const n = sizeOfShape(shape);
  if (values.length !== n) throw new Error(`host tensor of shape [${shape.join(',')}] needs ${n} values`);
  if (dtype === 'float32') return { dtype, shape: [...shape], data: Float32Array.from(values) };
  if (dtype === 'int32') return { dtype, shape: [...shape], data: Int32Array.from(values) };
  return { dtype, shape: [...shape], data: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
}

/** Row-major strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** NumPy broadcasting of two shapes; throws when they do not broadcast. */
export function broadcastHostShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** An elementwise binary op on host tensors, broadcasting; the result takes `dtype` (default a's). */
export function hostBinary(
  a: HostTensor,
  b: HostTensor,
  f: (x: number, y: number) => number,
  dtype: Dtype = a.dtype,
): HostTensor {
  const shape = broadcastHostShapes(a.shape, b.shape);
  const rank = shape.length;
  const n = sizeOfShape(shape);
  // Strides of each operand in the output's index space (0 along broadcast axes).
  const stridesIn = (t: HostTensor): number[] => {
    const s = strides(t.shape);
    return shape.map((d, i) => {
      const j = i - (rank - t.shape.length);
      return j < 0 || t.shape[j] === 1 ? 0 : s[j];
    });
  };
  const sa = stridesIn(a);
  const sb = stridesIn(b);
  const out = new Array<number>(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      ia += idx[k] * sa[k];
      ib += idx[k] * sb[k];
    }
    out[o] = f(a.data[ia], b.data[ib]);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return hostTensor(dtype, shape, dtype === 'int32' ? out.map((v) => Math.trunc(v)) : out);
}

/** Keep `indices[axis]` along each axis (a full list keeps the axis whole), then give the result `shape`. */
export function hostSelect(
  x: HostTensor,
  indices: readonly (readonly number[])[],
  shape: readonly number[],
): HostTensor {
  const s = strides(x.shape);
  const dims = indices.map((l) => l.length);
  const n = sizeOfShape(dims);
  const out = new Array<number>(n);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < dims.length; k++) src += indices[k][idx[k]] * s[k];
    out[o] = x.data[src];
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return hostTensor(x.dtype, shape, out);
}

/** Stack host tensors of one shape along a new axis. */
export function hostPack(xs: readonly HostTensor[], axis: number): HostTensor {
  const shape = xs[0].shape;
  const a = axis < 0 ? axis + shape.length + 1 : axis;
  const outer = sizeOfShape(shape.slice(0, a));
  const inner = sizeOfShape(shape.slice(a));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) for (let i = 0; i < inner; i++) out.push(x.data[o * inner + i]);
  }
  return hostTensor(xs[0].dtype, [...shape.slice(0, a), xs.length, ...shape.slice(a)], out);
}

/** Concatenate host tensors along an existing axis. */
export function hostConcat(xs: readonly HostTensor[], axis: number): HostTensor {
  const rank = xs[0].shape.length;
  const a = axis < 0 ? axis + rank : axis;
  const outer = sizeOfShape(xs[0].shape.slice(0, a));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const inner = sizeOfShape(x.shape.slice(a));
      for (let i = 0; i < inner; i++) out.push(x.data[o * inner + i]);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((t, x) => t + x.shape[a], 0);
  return hostTensor(xs[0].dtype, shape, out);
}

/** The host values of all of a node's data inputs, or undefined when one is not a constant. */
export function constInputs(c: OpContext): HostTensor[] | undefined {
  const out: HostTensor[] = [];
  for (let i = 0; i < c.inputs.length; i++) {
    const v = c.constValue(i);
    if (!v) return undefined;
    out.push(v);
  }
  return out;
}

/**
 * A converter that folds on the host when every input is a constant (the result is then a constant too,
 * readable by later ops), and builds engine ops otherwise.
 */
export function foldable(
  host: (c: OpContext, values: HostTensor[]) => HostTensor,
  graph: TfOpConverter,
): TfOpConverter {
  return (c) => {
    const values = constInputs(c);
    return values ? c.constant(host(c, values)) : graph(c);
  };
}
