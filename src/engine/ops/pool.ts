/**
 * 2-D pooling over NCHW tensors: max pooling (gradient routed through ONNX MaxPool's Indices output),
 * average pooling (gradient as a transposed depthwise convolution with a constant kernel) and global
 * average pooling.
 */
import { isFloat } from '../dtype.js';
import { type OnnxAttr, type OpDef, ShapeError, apply, apply1 } from '../op.js';
import { type Tensor, constant } from '../tensor.js';
import { convGradInput, convOutSize } from './conv.js';
import { div } from './elementwise.js';
import { reduceMean } from './reduce.js';
import { fill, reshape, scatterElements } from './shape.js';

type Pair = readonly [number, number];
type Quad = readonly [number, number, number, number];

/** Options of maxPool2d and avgPool2d. */
export interface Pool2dOptions {
  /** Window size [H, W] or one number. */
  readonly kernel: number | Pair;
  /** Step between windows; defaults to the kernel size (PyTorch's convention; ONNX's default is 1). */
  readonly strides?: number | Pair;
  /** Padding: one number, [H, W] symmetric, or [top, left, bottom, right]. Max pooling pads with -inf. */
  readonly pads?: number | Pair | Quad;
  /**
   * Average pooling only: whether padded zeros count in the divisor (default true, as in PyTorch's
   * AvgPool2d; ONNX's default is false).
   */
  readonly countIncludePad?: boolean;
}

interface PoolAttrs {
  readonly kernel: Pair;
  readonly strides: Pair;
  readonly pads: Quad;
  readonly countIncludePad: boolean;
}

const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function poolAttrs(op: string, o: Pool2dOptions): PoolAttrs {
  const kernel = pair(o.kernel);
  const strides = o.strides === undefined ? kernel : pair(o.strides);
  const p = o.pads ?? 0;
  const pads: Quad =
    typeof p === 'number'
      ? [p, p, p, p]
      : p.length === 2
        ? [p[0], p[1], p[0], p[1]]
        : [p[0], p[1], p[2], p[3]];
  const ok =
    [...kernel, ...strides].every((v) => Number.isInteger(v) && v >= 1) &&
    pads.every((v, i) => Number.isInteger(v) && v >= 0 && v < kernel[i % 2]);
  if (!ok) {
    throw new ShapeError(op, `bad geometry: kernel [${kernel}], strides [${strides}], pads [${pads}]`);
  }
  return { kernel, strides, pads, countIncludePad: o.countIncludePad ?? true };
}

function poolShape(op: string, x: Tensor, a: PoolAttrs): number[] {
  if (x.rank !== 4 || !isFloat(x.dtype)) throw new ShapeError(op, 'needs a float NCHW input', [x]);
  const ho = convOutSize(x.shape[2], a.kernel[0], a.strides[0], a.pads[0], a.pads[2]);
  const wo = convOutSize(x.shape[3], a.kernel[1], a.strides[1], a.pads[1], a.pads[3]);
  if (ho < 1 || wo < 1) throw new ShapeError(op, `the ${a.kernel.join('x')} window does not fit`, [x]);
  return [x.shape[0], x.shape[1], ho, wo];
}

const onnxAttrs = (a: PoolAttrs): Record<string, OnnxAttr> => ({
  kernel_shape: { ints: a.kernel },
  strides: { ints: a.strides },
  pads: { ints: a.pads },
});

const MaxPoolOp: OpDef<PoolAttrs> = {
  name: 'MaxPool',
  infer([x], a) {
    const shape = poolShape('MaxPool', x, a);
    return [
      { shape, dtype: x.dtype },
      { shape, dtype: 'int64' },
    ];
  },
  emit(e, { attrs }, ins, outs) {
    e.node('MaxPool', ins, outs, onnxAttrs(attrs));
  },
  vjp({ inputs: [x], outputs: [, idx] }, [g]) {
    // Indices address the flattened NCHW input; overlapping windows can pick the same element, so
    // the gradient is accumulated, not written.
    const flat = scatterElements(
      fill([x.size], 0, x.dtype),
      reshape(idx, [idx.size]),
      reshape(g!, [g!.size]),
      0,
      'add',
    );
    return [reshape(flat, x.shape)];
  },
};

/**
 * Max pooling over H and W.
 * @param x [N, C, H, W]
 * @returns [N, C, Ho, Wo], Ho = floor((H + top + bottom - kh) / stride) + 1
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return apply(MaxPoolOp, [x], poolAttrs('MaxPool', opts))[0];
}

/** How many of each window's pixels lie inside the unpadded image, as a [1, 1, Ho, Wo] constant. */
function windowCounts(x: Tensor, a: PoolAttrs, ho: number, wo: number): Tensor {
  const inside = (o: number, axis: 0 | 1): number => {
    const start = o * a.strides[axis] - a.pads[axis];
    const size = x.shape[2 + axis];
    return Math.min(start + a.kernel[axis], size) - Math.max(start, 0);
  };
  const counts = new Float32Array(ho * wo);
  for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) counts[i * wo + j] = inside(i, 0) * inside(j, 1);
  return constant(counts, [1, 1, ho, wo], x.dtype);
}

const AvgPoolOp: OpDef<PoolAttrs> = {
  name: 'AveragePool',
  infer([x], a) {
    return [{ shape: poolShape('AveragePool', x, a), dtype: x.dtype }];
  },
  emit(e, { attrs }, ins, outs) {
    e.node('AveragePool', ins, outs, {
      ...onnxAttrs(attrs),
      count_include_pad: { i: attrs.countIncludePad ? 1 : 0 },
    });
  },
  vjp({ inputs: [x], outputs: [y], attrs: a }, [g]) {
    // Each output spreads g / (window count) evenly over its window: the input gradient of a
    // depthwise conv whose kernel is all ones.
    const c = x.shape[1];
    const full = a.pads.every((p) => p === 0) || a.countIncludePad;
    const scaled = full
      ? div(g!, a.kernel[0] * a.kernel[1])
      : div(g!, windowCounts(x, a, y.shape[2], y.shape[3]));
    const ones = constant(
      new Float32Array(c * a.kernel[0] * a.kernel[1]).fill(1),
      [c, 1, ...a.kernel],
      x.dtype,
    );
    return [convGradInput(scaled, ones, x.shape, { strides: a.strides, pads: a.pads, group: c })];
  },
};

/**
 * Average pooling over H and W.
 * @param x [N, C, H, W]
 * @returns [N, C, Ho, Wo]
 */
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return apply1(AvgPoolOp, [x], poolAttrs('AveragePool', opts));
}

/**
 * Mean over H and W.
 * @param x [N, C, H, W]
 * @returns [N, C, 1, 1]
 */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new ShapeError('GlobalAveragePool', 'needs an NCHW input', [x]);
  return reduceMean(x, [2, 3], true);
}
