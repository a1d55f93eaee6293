/**
 * TF shape and indexing ops: Reshape, Squeeze, ExpandDims, Transpose, Concat, Pack, Slice, StridedSlice,
 * Pad / PadV2 / MirrorPad, Identity, and the run-time shape ops of Keras exports (Shape, Fill, ZerosLike,
 * Range, Tile, GatherV2). Index arguments must be constants: engine shapes are static. Shape arithmetic on
 * constants is folded on the host (fold.ts).
 */
import {
  type Tensor,
  cast,
  concat,
  constant,
  expand,
  fill,
  gather,
  pad,
  reshape,
  slice,
  squeeze,
  transpose,
  unsqueeze,
} from '../../engine/index.js';
import type { HostTensor } from '../tfjs-weights.js';
import type { OpContext, TfOpConverter } from './context.js';
import { foldable, hostConcat, hostPack, hostSelect, hostTensor, sizeOfShape } from './fold.js';

/** Select `indices` along `axis`: a plain slice when they are consecutive, a Gather otherwise. */
function take(x: Tensor, axis: number, indices: readonly number[]): Tensor {
  const start = indices[0];
  const consecutive = indices.every((v, i) => v === start + i);
  if (indices.length > 0 && consecutive) return slice(x, [start], [start + indices.length], [axis]);
  return gather(x, constant(indices, [indices.length], 'int64'), axis);
}

/** One input axis of a strided slice, resolved to the positions it keeps. */
interface AxisSelection {
  readonly indices: number[];
  /** The axis is dropped from the output (shrink_axis_mask). */
  readonly shrink: boolean;
}

function resolveAxis(
  size: number,
  begin: number,
  end: number,
  stride: number,
  beginMasked: boolean,
  endMasked: boolean,
): number[] {
  if (stride === 0) throw new Error('StridedSlice stride 0');
  const norm = (v: number): number => (v < 0 ? v + size : v);
  let b: number;
  let e: number;
  if (stride > 0) {
    b = beginMasked ? 0 : Math.min(Math.max(norm(begin), 0), size);
    e = endMasked ? size : Math.min(Math.max(norm(end), 0), size);
  } else {
    b = beginMasked ? size - 1 : Math.min(Math.max(norm(begin), -1), size - 1);
    e = endMasked ? -1 : Math.min(Math.max(norm(end), -1), size - 1);
  }
  const out: number[] = [];
  for (let i = b; stride > 0 ? i < e : i > e; i += stride) out.push(i);
  return out;
}

/**
 * TF StridedSlice with its five masks. Each input axis becomes a list of kept positions; new axes and
 * shrunk axes are applied by a final Reshape.
 */
function stridedSlicePlan(
  c: OpContext,
  x: { readonly shape: readonly number[]; readonly rank: number },
): { selections: AxisSelection[]; outShape: number[] } {
  const begin = c.ints(1, 'begin');
  const end = c.ints(2, 'end');
  const strides = c.ints(3, 'strides');
  const bit = (mask: string, i: number): boolean => ((c.attrs.int(mask, 0) >> i) & 1) === 1;
  const n = begin.length;
  let explicit = 0;
  let ellipsisAt = -1;
  for (let i = 0; i < n; i++) {
    if (bit('ellipsis_mask', i)) {
      if (ellipsisAt < 0) ellipsisAt = i;
    } else if (!bit('new_axis_mask', i)) explicit++;
  }
  const selections: AxisSelection[] = [];
  const outShape: number[] = [];
  const full = (d: number): AxisSelection => ({ indices: [...Array(x.shape[d]).keys()], shrink: false });
  let d = 0;
  for (let i = 0; i < n; i++) {
    if (i === ellipsisAt) {
      for (let k = 0; k < x.rank - explicit; k++, d++) {
        selections.push(full(d));
        outShape.push(x.shape[d]);
      }
    } else if (bit('ellipsis_mask', i)) {
      continue;
    } else if (bit('new_axis_mask', i)) {
      outShape.push(1);
    } else {
      if (d >= x.rank) throw c.error(`slice spec addresses more than the input's ${x.rank} axes`);
      const size = x.shape[d];
      if (bit('shrink_axis_mask', i)) {
        const idx = begin[i] < 0 ? begin[i] + size : begin[i];
        if (idx < 0 || idx >= size) throw c.error(`index ${begin[i]} out of range for axis ${d} of ${size}`);
        selections.push({ indices: [idx], shrink: true });
      } else {
        const indices = resolveAxis(
          size,
          begin[i],
          end[i],
          strides[i],
          bit('begin_mask', i),
          bit('end_mask', i),
        );
        selections.push({ indices, shrink: false });
        outShape.push(indices.length);
      }
      d++;
    }
  }
  for (; d < x.rank; d++) {
    selections.push(full(d));
    outShape.push(x.shape[d]);
  }
  return { selections, outShape };
}

function stridedSlice(c: OpContext): Tensor {
  const x = c.input(0);
  const { selections, outShape } = stridedSlicePlan(c, x);
  let y = x;
  selections.forEach((s, axis) => {
    if (s.indices.length !== x.shape[axis] || s.indices.some((v, i) => v !== i)) {
      y = take(y, axis, s.indices);
    }
  });
  return reshape(y, outShape);
}

/** MirrorPad: REFLECT repeats without the edge pixel, SYMMETRIC with it; one Gather per padded axis. */
function mirrorPad(c: OpContext): Tensor {
  const x = c.input(0);
  const pads = c.ints(1, 'paddings');
  const mode = c.attrs.string('mode');
  if (mode !== 'REFLECT' && mode !== 'SYMMETRIC') throw c.error(`unknown MirrorPad mode '${mode}'`);
  const edge = mode === 'REFLECT' ? 1 : 0;
  let y = x;
  for (let axis = 0; axis < x.rank; axis++) {
    const [b, a] = [pads[2 * axis], pads[2 * axis + 1]];
    if (b === 0 && a === 0) continue;
    const n = x.shape[axis];
    if (b > n - edge || a > n - edge) throw c.error(`padding ${b}/${a} too large for axis of ${n}`);
    const idx: number[] = [];
    for (let i = b; i > 0; i--) idx.push(i - 1 + edge);
    for (let i = 0; i < n; i++) idx.push(i);
    for (let i = 0; i < a; i++) idx.push(n - 1 - edge - i);
    y = gather(y, constant(idx, [idx.length], 'int64'), axis);
  }
  return y;
}

function padConstant(c: OpContext, value: number): Tensor {
  const x = c.input(0);
  const pads = c.ints(1, 'paddings');
  const before = x.shape.map((_, i) => pads[2 * i]);
  const after = x.shape.map((_, i) => pads[2 * i + 1]);
  return pad(x, before, after, value);
}

/** TF Tile: each axis repeated `multiples[i]` times, as an Expand over an interleaved new axis per axis. */
function tile(x: Tensor, multiples: readonly number[]): Tensor {
  if (multiples.length !== x.rank) throw new Error(`Tile needs ${x.rank} multiples, got ${multiples.length}`);
  if (multiples.every((m) => m === 1)) return x;
  const spread = x.shape.flatMap((d) => [1, d]);
  const target = x.shape.flatMap((d, i) => [multiples[i], d]);
  return reshape(
    expand(reshape(x, spread), target),
    x.shape.map((d, i) => d * multiples[i]),
  );
}

/** TF Range over constants (start, limit, delta), as a host tensor of the start's dtype. */
function hostRange(c: OpContext, [start, limit, delta]: HostTensor[]): HostTensor {
  const [s, l, d] = [start.data[0], limit.data[0], delta.data[0]];
  if (d === 0) throw c.error('Range delta 0');
  const out: number[] = [];
  for (let v = s; d > 0 ? v < l : v > l; v += d) out.push(v);
  return hostTensor(start.dtype, [out.length], out);
}

function scalarValue(c: OpContext, i: number, what: string): number {
  const v = c.ints(i, what);
  if (v.length !== 1) throw c.error(`${what} must be a scalar`);
  return v[0];
}

function axisOf(c: OpContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw c.error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Converters for shape and indexing TF ops, by op name. */
export const SHAPE_OPS: Readonly<Record<string, TfOpConverter>> = {
  Identity: (c) => c.input(0),
  StopGradient: (c) => c.input(0),
  Reshape: foldable(
    (c, [x, shape]) => {
      const dims = Array.from(shape.data, Number);
      const known = dims.reduce((a, v) => (v === -1 ? a : a * v), 1);
      return { ...x, shape: dims.map((v) => (v === -1 ? x.data.length / known : v)) } as HostTensor;
    },
    (c) => reshape(c.input(0), c.ints(1, 'shape')),
  ),
  Squeeze: (c) => {
    const axes = c.attrs.ints('squeeze_dims', []);
    const x = c.input(0);
    return squeeze(x, axes.length ? axes.map((a) => axisOf(c, a, x.rank)) : undefined);
  },
  ExpandDims: foldable(
    (c, [x]) => {
      const dim = scalarValue(c, 1, 'dim');
      const a = dim < 0 ? dim + x.shape.length + 1 : dim;
      return { ...x, shape: [...x.shape.slice(0, a), 1, ...x.shape.slice(a)] } as HostTensor;
    },
    (c) => unsqueeze(c.input(0), scalarValue(c, 1, 'dim')),
  ),
  Transpose: (c) => transpose(c.input(0), c.ints(1, 'perm')),
  ConcatV2: foldable(
    (c, values) => {
      const xs = values.slice(0, -1);
      return hostConcat(xs, axisOf(c, scalarValue(c, values.length - 1, 'axis'), xs[0].shape.length));
    },
    (c) => {
      const xs = c.inputs.slice(0, -1);
      const axis = scalarValue(c, c.inputs.length - 1, 'axis');
      return concat(xs, axisOf(c, axis, xs[0].rank));
    },
  ),
  Concat: (c) => {
    const xs = c.inputs.slice(1);
    return concat(xs, axisOf(c, scalarValue(c, 0, 'axis'), xs[0].rank));
  },
  Pack: foldable(
    (c, values) => hostPack(values, c.attrs.int('axis', 0)),
    (c) => {
      const axis = c.attrs.int('axis', 0);
      const a = axis < 0 ? axis + c.input(0).rank + 1 : axis;
      return concat(
        c.inputs.map((t) => unsqueeze(t, a)),
        a,
      );
    },
  ),
  Slice: (c) => {
    const x = c.input(0);
    const begin = c.ints(1, 'begin');
    const size = c.ints(2, 'size');
    const end = begin.map((b, i) => (size[i] === -1 ? x.shape[i] : b + size[i]));
    return slice(x, begin, end);
  },
  StridedSlice: foldable((c, [x]) => {
    const { selections, outShape } = stridedSlicePlan(c, { shape: x.shape, rank: x.shape.length });
    return hostSelect(
      x,
      selections.map((s) => s.indices),
      outShape,
    );
  }, stridedSlice),
  // Engine shapes are static: a tensor's shape is a constant.
  Shape: (c) => {
    const out = c.attrs.type('out_type', 'DT_INT32');
    if (out !== 'DT_INT32') throw c.error(`Shape out_type ${out} is not supported`);
    const x = c.input(0);
    return c.constant(hostTensor('int32', [x.rank], x.shape));
  },
  ZerosLike: (c) => {
    const x = c.input(0);
    return fill(x.shape, 0, x.dtype);
  },
  Fill: (c) => {
    const dims = c.ints(0, 'dims');
    const value = c.constValue(1);
    if (value)
      return c.constant(
        hostTensor(value.dtype, dims, new Array<number>(sizeOfShape(dims)).fill(value.data[0])),
      );
    return expand(
      reshape(
        c.input(1),
        dims.map(() => 1),
      ),
      dims,
    );
  },
  Range: (c) => {
    const values = [0, 1, 2].map((i) => c.constValue(i));
    if (values.some((v) => !v)) throw c.error('Range arguments must be constants (static shapes)');
    return c.constant(hostRange(c, values as HostTensor[]));
  },
  Tile: (c) => tile(c.input(0), c.ints(1, 'multiples')),
  GatherV2: (c) => {
    const x = c.input(0);
    if (c.attrs.int('batch_dims', 0) !== 0) throw c.error('batch_dims other than 0 is not supported');
    const axis = axisOf(c, scalarValue(c, 2, 'axis'), x.rank);
    const idx = c.input(1);
    return gather(x, idx.dtype === 'int64' ? idx : cast(idx, 'int64'), axis);
  },
  Pad: (c) => padConstant(c, 0),
  PadV2: (c) => {
    const v = c.constValue(2);
    if (!v) throw c.error('constant_values (input 2) must be a constant');
    return padConstant(c, Number(v.data[0]));
  },
  MirrorPad: mirrorPad,
};
