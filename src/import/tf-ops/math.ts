/**
 * TF elementwise ops: binary arithmetic, comparisons, activations, unary functions (trigonometry included),
 * Softmax and Cast. Arithmetic on constants is folded on the host (fold.ts), so shape computations stay static.
 */
import {
  type DType,
  type Tensor,
  abs,
  acos,
  add,
  and,
  cast,
  clip,
  cos,
  div,
  exp,
  floor,
  greater,
  greaterOrEqual,
  lessOrEqual,
  maximum,
  minimum,
  mul,
  neg,
  relu,
  sigmoid,
  sin,
  softmax,
  sqrt,
  sub,
  tanh,
  where,
} from '../../engine/index.js';
import type { OpContext, TfOpConverter } from './context.js';
import { foldable, hostBinary, hostTensor } from './fold.js';

/** TF DataType enum names the importer maps onto engine dtypes. */
export const TF_DTYPES: Readonly<Record<string, DType>> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_INT32: 'int32',
  DT_INT64: 'int64',
  DT_BOOL: 'bool',
};

/** prelu(x) = x where x > 0, alpha * x elsewhere; alpha broadcasts over the trailing (channel) axes. */
export function prelu(x: Tensor, alpha: Tensor): Tensor {
  return add(relu(x), mul(alpha, minimum(x, 0)));
}

/** elu(x) = x where x > 0, exp(x) - 1 elsewhere. */
export function elu(x: Tensor): Tensor {
  return where(greater(x, 0), x, sub(exp(minimum(x, 0)), 1));
}

/** leaky_relu(x) = x where x > 0, alpha * x elsewhere. */
export function leakyRelu(x: Tensor, alpha: number): Tensor {
  return where(greater(x, 0), x, mul(x, alpha));
}

/**
 * A fused activation by its TF name, as used by _FusedConv2D / _FusedMatMul and the standalone ops.
 * @param alpha Prelu's slope tensor
 * @param leakyAlpha LeakyRelu's slope
 */
export function activation(
  c: OpContext,
  name: string,
  x: Tensor,
  alpha: Tensor | undefined,
  leakyAlpha: number,
): Tensor {
  switch (name) {
    case 'Relu':
      return relu(x);
    case 'Relu6':
      return clip(x, 0, 6);
    case 'Elu':
      return elu(x);
    case 'Sigmoid':
      return sigmoid(x);
    case 'Tanh':
      return tanh(x);
    case 'LeakyRelu':
      return leakyRelu(x, leakyAlpha);
    case 'Prelu':
      if (!alpha) throw c.error('fused Prelu needs its alpha argument');
      return prelu(x, alpha);
    default:
      throw c.error(`unsupported fused activation '${name}'`);
  }
}

const binary =
  (f: (a: Tensor, b: Tensor) => Tensor): TfOpConverter =>
  (c) =>
    f(c.input(0), c.input(1));

/** A binary op folded on the host when both operands are constants. */
const arithmetic = (
  f: (a: Tensor, b: Tensor) => Tensor,
  h: (x: number, y: number) => number,
): TfOpConverter => foldable((_c, [a, b]) => hostBinary(a, b, h), binary(f));

/**
 * atan2(y, x) in (-pi, pi] from the engine's acos: whichever of x / r and y / r is smaller in magnitude
 * (at most 1/sqrt 2) goes through acos, where it is well conditioned; near +-1 acos loses half the digits.
 * atan2(0, 0) is 0, as in TF.
 */
export function atan2(y: Tensor, x: Tensor): Tensor {
  const r = sqrt(add(mul(x, x), mul(y, y)));
  const safe = maximum(r, 1e-30);
  const cosine = div(x, safe); // |x / r| <= 1/sqrt 2 where |y| > |x|
  const sine = div(y, safe); // |y / r| <= 1/sqrt 2 where |x| >= |y|
  // Where |y| > |x|: the angle from acos(x / r), its sign from y.
  const fromCos = acos(clip(cosine, -1, 1));
  const steep = where(greaterOrEqual(y, 0), fromCos, neg(fromCos));
  // Where |x| >= |y|: asin(y / r) = pi/2 - acos(y / r), reflected into the left half-plane when x < 0.
  const asinY = sub(Math.PI / 2, acos(clip(sine, -1, 1)));
  const left = where(greaterOrEqual(y, 0), sub(Math.PI, asinY), sub(-Math.PI, asinY));
  const flat = where(greaterOrEqual(x, 0), asinY, left);
  const angle = where(greater(abs(y), abs(x)), steep, flat);
  return where(greater(r, 0), angle, mul(r, 0));
}

const unary =
  (f: (x: Tensor) => Tensor): TfOpConverter =>
  (c) =>
    f(c.input(0));

/** Converters for elementwise TF ops, by op name. */
export const MATH_OPS: Readonly<Record<string, TfOpConverter>> = {
  Add: arithmetic(add, (x, y) => x + y),
  AddV2: arithmetic(add, (x, y) => x + y),
  BiasAdd: (c) => {
    const format = c.attrs.string('data_format', 'NHWC');
    if (format !== 'NHWC') throw c.error(`data_format ${format} is not supported`);
    return add(c.input(0), c.input(1));
  },
  Sub: arithmetic(sub, (x, y) => x - y),
  Mul: arithmetic(mul, (x, y) => x * y),
  RealDiv: binary(div),
  Div: binary(div),
  Maximum: arithmetic(maximum, Math.max),
  Minimum: arithmetic(minimum, Math.min),
  LessEqual: binary(lessOrEqual),
  GreaterEqual: binary(greaterOrEqual),
  LogicalAnd: binary(and),
  Atan2: binary(atan2),
  Cos: unary(cos),
  Sin: unary(sin),
  Floor: unary(floor),
  AddN: (c) => c.inputs.slice(1).reduce((acc, t) => add(acc, t), c.input(0)),
  Neg: unary(neg),
  Abs: unary(abs),
  Exp: unary(exp),
  Sqrt: unary(sqrt),
  Rsqrt: unary((x) => div(1, sqrt(x))),
  Square: unary((x) => mul(x, x)),
  Relu: unary(relu),
  Relu6: unary((x) => clip(x, 0, 6)),
  Elu: unary(elu),
  Sigmoid: unary(sigmoid),
  Tanh: unary(tanh),
  LeakyRelu: (c) => leakyRelu(c.input(0), c.attrs.float('alpha', 0.2)),
  Prelu: (c) => prelu(c.input(0), c.input(1)),
  Softmax: (c) => softmax(c.input(0), -1),
  Cast: (c) => {
    const to = TF_DTYPES[c.attrs.type('DstT')];
    if (!to) throw c.error(`cast to ${c.attrs.type('DstT')} is not supported`);
    const v = c.constValue(0);
    if (v && (to === 'float32' || to === 'int32' || to === 'bool')) {
      const values = Array.from(v.data, Number);
      return c.constant(hostTensor(to, v.shape, to === 'int32' ? values.map(Math.trunc) : values));
    }
    return cast(c.input(0), to);
  },
};
