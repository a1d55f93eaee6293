/** Parametric activations: PReLU (learned slope per channel) and leaky ReLU (fixed slope). */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1 } from '../op.js';
import type { Tensor } from '../tensor.js';
import { lowerings } from '../lowering.js';
import { greater, minimum, mul, where } from './elementwise.js';
import { channelSum } from './norm.js';
import { reshape } from './shape.js';

/** The slope [C] as a tensor that broadcasts against x's channel axis (axis 1). */
const slopeFor = (slope: Tensor, x: Tensor): Tensor =>
  reshape(slope, [1, slope.size, ...x.shape.slice(2).map(() => 1)]);

const PReluOp: OpDef<null> = {
  name: 'PRelu',
  infer([x, slope]) {
    const ok =
      x.rank >= 2 &&
      isFloat(x.dtype) &&
      slope.dtype === x.dtype &&
      slope.rank === 1 &&
      slope.shape[0] === x.shape[1];
    if (!ok) throw new ShapeError('PRelu', 'needs x [N, C, ...] and a slope [C] of its dtype', [x, slope]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, { inputs: [x, slope] }, [xs, s], outs) {
    if (lowerings().prelu !== 'where') {
      // x + (slope - 1) * min(x, 0): a scalar Min, a per-channel affine (BatchNormalization with
      // mean 0, variance 1, epsilon 0) and a same-shape Add, none of them a broadcast of a [C] vector.
      const c = slope.size;
      const [zeros, ones, sm1, neg, part] = ['zeros', 'ones', 'slope_m1', 'negpart', 'scaled'].map((h) =>
        e.tmp(h),
      );
      e.node('Expand', [e.scalar(0, x.dtype), e.int64s([c])], [zeros]);
      e.node('Expand', [e.scalar(1, x.dtype), e.int64s([c])], [ones]);
      e.node('Sub', [s, e.scalar(1, x.dtype)], [sm1]);
      e.node('Min', [xs, e.scalar(0, x.dtype)], [neg]);
      e.node('BatchNormalization', [neg, sm1, zeros, zeros, ones], [part], { epsilon: { f: 0 } });
      e.node('Add', [xs, part], outs);
      return;
    }
    // ONNX Runtime's PRelu kernel with a [C, 1, 1] slope measured 63-134 ms on [16, 64, 56, 56]
    // (2 threads) against 27-73 ms for Where(x > 0, x, x * slope) in the same runs; emit the latter.
    const shaped = e.tmp('slope');
    const scaled = e.tmp('scaled');
    const positive = e.tmp('positive');
    e.node('Reshape', [s, e.int64s([slope.size, ...x.shape.slice(2).map(() => 1)])], [shaped]);
    e.node('Mul', [xs, shaped], [scaled]);
    e.node('Greater', [xs, e.scalar(0, x.dtype)], [positive]);
    e.node('Where', [positive, xs, scaled], outs);
  },
  vjp({ inputs: [x, slope] }, [g], [nx, ns]) {
    const form = lowerings().prelu;
    if (form === 'lean') {
      // Every full-size float term depends on g; only the bool x > 0 is a function of x alone.
      // ONNX Runtime runs a node as soon as its inputs exist and merges equal subexpressions, so a
      // float term of x alone ('min''s mask, or min(x, 0), which the 'min' forward computes too)
      // is made during the forward pass and held until the backward.
      const positive = greater(x, 0);
      const dx = nx ? where(positive, g!, mul(g!, slopeFor(slope, x))) : null;
      return [dx, ns ? channelSum(where(positive, 0, mul(g!, x))) : null];
    }
    let dx: Tensor | null = null;
    if (nx) {
      const s = slopeFor(slope, x);
      // 'min': one multiply by a mask [N, C, ...] that is 1 or the channel's slope.
      dx = form === 'min' ? mul(g!, where(greater(x, 0), 1, s)) : where(greater(x, 0), g!, mul(g!, s));
    }
    return [dx, ns ? channelSum(mul(g!, minimum(x, 0))) : null];
  },
};

/**
 * PReLU: x where x > 0, slope[c] * x elsewhere, with one learned slope per channel.
 * @param x [N, C] or [N, C, H, W] (any rank >= 2; channels on axis 1)
 * @param slope [C]
 */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  return apply1(PReluOp, [x, slope], null);
}

const LeakyReluOp: OpDef<{ alpha: number }> = {
  name: 'LeakyRelu',
  infer([x]) {
    if (!isFloat(x.dtype)) throw new ShapeError('LeakyRelu', 'needs a float operand', [x]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, { attrs: { alpha } }, ins, outs) {
    e.node('LeakyRelu', ins, outs, { alpha: { f: alpha } });
  },
  vjp({ inputs: [x], attrs: { alpha } }, [g]) {
    return [where(greater(x, 0), g!, mul(g!, alpha))];
  },
};

/** x where x > 0, alpha * x elsewhere (alpha fixed, default 0.01 as in PyTorch). */
export function leakyRelu(x: Tensor, alpha = 0.01): Tensor {
  return apply1(LeakyReluOp, [x], { alpha });
}
