/**
 * Shape and indexing primitives: Reshape, Transpose, Expand, Concat, Slice, Pad, Fill, Gather,
 * GatherElements, ScatterElements.
 */
import { type DType, ONNX_ELEM_TYPE } from '../dtype.js';
import { type OpDef, ShapeError, apply1, normAxis } from '../op.js';
import { type Shape, type Tensor, sizeOf } from '../tensor.js';
import { sumTo } from './elementwise.js';

const eqShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

// ---------------------------------------------------------------- Reshape
const ReshapeOp: OpDef<{ shape: readonly number[] }> = {
  name: 'Reshape',
  infer([x], { shape }) {
    if (sizeOf(shape) !== x.size)
      throw new ShapeError('Reshape', `cannot reshape to [${shape.join(',')}]`, [x]);
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('Reshape', [ins[0], e.int64s(node.attrs.shape)], outs);
  },
  vjp({ inputs: [x] }, [g]) {
    return [reshape(g!, x.shape)];
  },
};

/** View with a new shape of the same size; one entry may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (shape.filter((d) => d === -1).length > 1 || !resolved.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError('Reshape', `cannot reshape to [${shape.join(',')}]`, [x]);
  }
  if (eqShape(resolved, x.shape)) return x;
  return apply1(ReshapeOp, [x], { shape: resolved });
}

// ---------------------------------------------------------------- Transpose
const TransposeOp: OpDef<{ perm: readonly number[] }> = {
  name: 'Transpose',
  infer([x], { perm }) {
    const ok = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!ok)
      throw new ShapeError('Transpose', `perm [${perm.join(',')}] is not a permutation of the axes`, [x]);
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('Transpose', ins, outs, { perm: { ints: node.attrs.perm } });
  },
  vjp({ attrs: { perm } }, [g]) {
    const inv: number[] = [];
    perm.forEach((p, i) => (inv[p] = i));
    return [transpose(g!, inv)];
  },
};

/** Permute axes; default reverses them. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.every((a, i) => a === i)) return x;
  return apply1(TransposeOp, [x], { perm: p });
}

// ---------------------------------------------------------------- Expand
const ExpandOp: OpDef<{ shape: readonly number[] }> = {
  name: 'Expand',
  infer([x], { shape }) {
    const r = shape.length;
    if (x.rank > r) throw new ShapeError('Expand', `cannot expand to [${shape.join(',')}]`, [x]);
    shape.forEach((d, i) => {
      const s = x.shape[i - (r - x.rank)] ?? 1;
      if (s !== 1 && s !== d) throw new ShapeError('Expand', `cannot expand to [${shape.join(',')}]`, [x]);
    });
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('Expand', [ins[0], e.int64s(node.attrs.shape)], outs);
  },
  vjp({ inputs: [x] }, [g]) {
    return [sumTo(g!, x.shape)];
  },
};

/** Broadcast to a larger shape. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (eqShape(x.shape, shape)) return x;
  return apply1(ExpandOp, [x], { shape: [...shape] });
}

// ---------------------------------------------------------------- Fill
const FillOp: OpDef<{ shape: readonly number[]; value: number; dtype: DType }> = {
  name: 'Fill',
  infer(_ins, { shape, dtype }) {
    return [{ shape, dtype }];
  },
  emit(e, { attrs: { shape, value, dtype } }, _ins, outs) {
    if (sizeOf(shape) < RUNTIME_FILL_MIN) {
      // Small: Expand of a scalar, which ONNX Runtime constant-folds into a small initializer.
      e.node('Expand', [e.scalar(value, dtype), e.int64s(shape)], outs);
      return;
    }
    // Large (e.g. the [C, D] zeros a Gather gradient scatters into): ONNX Runtime constant-folds
    // anything computed from initializers alone, which would bake the whole tensor into the session
    // as an initializer (memory held for the session's life, folding time at session creation, and
    // a ScatterElements that must copy it instead of updating its input in place). RandomUniform is
    // never folded (it is non-deterministic in general); with low = high = 0 it is exactly 0, so
    // shape + Cast(0) is the same shape made at run time. ConstantOfShape then fills the buffer at
    // run time, and Reshape to the constant shape gives the static shape back to ONNX Runtime's
    // shape inference and memory planner.
    const r = e.tmp('zero');
    const ri = e.tmp('zero_i64');
    const rs = e.tmp('shape');
    const filled = e.tmp('fill');
    e.node('RandomUniform', [], [r], { shape: { ints: [1] }, low: { f: 0 }, high: { f: 0 }, seed: { f: 0 } });
    e.node('Cast', [r], [ri], { to: { i: ONNX_ELEM_TYPE.int64 } });
    e.node('Add', [e.int64s(shape), ri], [rs]);
    e.node('ConstantOfShape', [rs], [filled], { value: { scalar: value, dtype } });
    e.node('Reshape', [filled, e.int64s(shape)], outs);
  },
};

/** Fills with at least this many elements are built at run time (see FillOp.emit). */
const RUNTIME_FILL_MIN = 1 << 16;

/** A tensor filled with one value, built at run time (no large initializer in the model). */
export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  return apply1(FillOp, [], { shape: [...shape], value, dtype });
}

// ---------------------------------------------------------------- Concat
const ConcatOp: OpDef<{ axis: number }> = {
  name: 'Concat',
  infer(ins, { axis }) {
    if (ins.length === 0) throw new ShapeError('Concat', 'needs at least one input');
    const first = ins[0];
    let total = 0;
    for (const t of ins) {
      const ok =
        t.dtype === first.dtype &&
        t.rank === first.rank &&
        t.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!ok) throw new ShapeError('Concat', `inputs must match except on axis ${axis}`, ins);
      total += t.shape[axis];
    }
    return [{ shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype: first.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('Concat', ins, outs, { axis: { i: node.attrs.axis } });
  },
  vjp({ inputs, attrs: { axis } }, [g], needs) {
    let start = 0;
    return inputs.map((t, i) => {
      const s = start;
      start += t.shape[axis];
      return needs[i] ? slice(g!, [s], [s + t.shape[axis]], [axis]) : null;
    });
  },
};

/** Join tensors along an axis. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 1) return xs[0];
  return apply1(ConcatOp, xs, { axis: normAxis('Concat', axis, xs[0]?.rank ?? 0) });
}

// ---------------------------------------------------------------- Slice / Pad
interface SliceAttrs {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly axes: readonly number[];
}

const SliceOp: OpDef<SliceAttrs> = {
  name: 'Slice',
  infer([x], { starts, ends, axes }) {
    const shape = [...x.shape];
    axes.forEach((a, i) => {
      if (starts[i] < 0 || ends[i] > x.shape[a] || starts[i] > ends[i]) {
        throw new ShapeError('Slice', `range [${starts[i]}, ${ends[i]}) out of bounds on axis ${a}`, [x]);
      }
      shape[a] = ends[i] - starts[i];
    });
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, { attrs: { starts, ends, axes } }, ins, outs) {
    e.node('Slice', [ins[0], e.int64s(starts), e.int64s(ends), e.int64s(axes)], outs);
  },
  vjp({ inputs: [x], attrs: { starts, ends, axes } }, [g]) {
    const before = x.shape.map(() => 0);
    const after = x.shape.map(() => 0);
    axes.forEach((a, i) => {
      before[a] = starts[i];
      after[a] = x.shape[a] - ends[i];
    });
    return [pad(g!, before, after)];
  },
};

/**
 * Take [starts[i], ends[i]) along axes[i] (step 1). Negative indices count from the end.
 */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
): Tensor {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis('Slice', a, x.rank));
  const fix = (v: number, a: number): number => Math.min(Math.max(v < 0 ? v + x.shape[a] : v, 0), x.shape[a]);
  const s = starts.map((v, i) => fix(v, ax[i]));
  const en = ends.map((v, i) => fix(v, ax[i]));
  if (ax.every((a, i) => s[i] === 0 && en[i] === x.shape[a])) return x;
  return apply1(SliceOp, [x], { starts: s, ends: en, axes: ax });
}

interface PadAttrs {
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly value: number;
}

const PadOp: OpDef<PadAttrs> = {
  name: 'Pad',
  infer([x], { before, after }) {
    if (before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((p) => p < 0)) {
      throw new ShapeError('Pad', `pads [${before.join(',')}] / [${after.join(',')}] must be >= 0 per axis`, [
        x,
      ]);
    }
    return [{ shape: x.shape.map((d, i) => d + before[i] + after[i]), dtype: x.dtype }];
  },
  emit(e, { inputs: [x], attrs: { before, after, value } }, ins, outs) {
    e.node('Pad', [ins[0], e.int64s([...before, ...after]), e.scalar(value, x.dtype)], outs, {
      mode: { s: 'constant' },
    });
  },
  vjp({ inputs: [x], attrs: { before } }, [g]) {
    return [
      slice(
        g!,
        before,
        before.map((b, i) => b + x.shape[i]),
        x.shape.map((_, i) => i),
      ),
    ];
  },
};

/** Constant padding: `before[i]` and `after[i]` elements on each axis. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  if ([...before, ...after].every((p) => p === 0)) return x;
  return apply1(PadOp, [x], { before, after, value });
}

// ---------------------------------------------------------------- Gather
const GatherOp: OpDef<{ axis: number }> = {
  name: 'Gather',
  infer([x, idx], { axis }) {
    if (idx.dtype !== 'int64') throw new ShapeError('Gather', 'indices must be int64', [x, idx]);
    return [{ shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('Gather', ins, outs, { axis: { i: node.attrs.axis } });
  },
  vjp({ inputs: [x, idx], attrs: { axis } }, [g]) {
    // Scatter-add the gradient rows back; repeated indices accumulate.
    const k = idx.size;
    const lead = x.shape.slice(0, axis);
    const tail = x.shape.slice(axis + 1);
    const flatShape = [...lead, k, ...tail];
    const gi = reshape(g!, flatShape);
    const ii = expand(reshape(idx, [...lead.map(() => 1), k, ...tail.map(() => 1)]), flatShape);
    return [scatterElements(fill(x.shape, 0, x.dtype), ii, gi, axis, 'add'), null];
  },
};

/** Select slices along an axis by int64 indices (ONNX Gather). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return apply1(GatherOp, [x, indices], { axis: normAxis('Gather', axis, x.rank) });
}

const GatherElementsOp: OpDef<{ axis: number }> = {
  name: 'GatherElements',
  infer([x, idx], { axis }) {
    if (idx.dtype !== 'int64' || idx.rank !== x.rank) {
      throw new ShapeError('GatherElements', 'indices must be int64 with the data rank', [x, idx]);
    }
    if (idx.shape.some((d, i) => i !== axis && d > x.shape[i])) {
      throw new ShapeError('GatherElements', 'indices larger than data off the axis', [x, idx]);
    }
    return [{ shape: idx.shape, dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    e.node('GatherElements', ins, outs, { axis: { i: node.attrs.axis } });
  },
  vjp({ inputs: [x, idx], attrs: { axis } }, [g]) {
    return [scatterElements(fill(x.shape, 0, x.dtype), idx, g!, axis, 'add'), null];
  },
};

/** out[i][j] = x[idx[i][j]][j] along `axis` (ONNX GatherElements). */
export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  return apply1(GatherElementsOp, [x, indices], { axis: normAxis('GatherElements', axis, x.rank) });
}

interface ScatterAttrs {
  readonly axis: number;
  readonly reduction: 'none' | 'add';
}
const ScatterElementsOp: OpDef<ScatterAttrs> = {
  name: 'ScatterElements',
  infer([x, idx, upd]) {
    if (
      idx.dtype !== 'int64' ||
      !eqShape(idx.shape, upd.shape) ||
      idx.rank !== x.rank ||
      upd.dtype !== x.dtype
    ) {
      throw new ShapeError(
        'ScatterElements',
        'indices (int64) and updates must share a shape of the data rank',
        [x, idx, upd],
      );
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, { attrs: { axis, reduction } }, ins, outs) {
    e.node('ScatterElements', ins, outs, { axis: { i: axis }, reduction: { s: reduction } });
  },
  vjp({ inputs: [x, idx], attrs: { axis, reduction } }, [g], [nx, , nu]) {
    // With 'none', overwritten positions of the data get no gradient.
    const dx = reduction === 'add' ? g! : scatterElements(g!, idx, fill(idx.shape, 0, x.dtype), axis, 'none');
    return [nx ? dx : null, null, nu ? gatherElements(g!, idx, axis) : null];
  },
};

/** Write (or with 'add', accumulate) updates into a copy of x at indices along axis. */
export function scatterElements(
  x: Tensor,
  indices: Tensor,
  updates: Tensor,
  axis: number,
  reduction: 'none' | 'add' = 'none',
): Tensor {
  return apply1(ScatterElementsOp, [x, indices, updates], {
    axis: normAxis('ScatterElements', axis, x.rank),
    reduction,
  });
}

/** Insert a size-1 axis. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Remove size-1 axes (all when omitted). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const ax = (axes ?? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) =>
    normAxis('Squeeze', a, x.rank),
  );
  return reshape(
    x,
    x.shape.filter((_, i) => !ax.includes(i)),
  );
}

/** Flatten all axes after the first: [N, ...] -> [N, prod(...)]. */
export function flatten(x: Tensor): Tensor {
  return reshape(x, [x.shape[0], x.size / Math.max(x.shape[0], 1)]);
}
