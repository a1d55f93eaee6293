/** TF elementwise ops: binary arithmetic, activations, unary functions, Softmax and Cast. */
import {
  type DType,
  type Tensor,
  abs,
  add,
  cast,
  clip,
  div,
  exp,
  greater,
  maximum,
  minimum,
  mul,
  neg,
  relu,
  sigmoid,
  softmax,
  sqrt,
  sub,
  tanh,
  where,
} from '../../engine/index.js';
import type { OpContext, TfOpConverter } from './context.js';

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

const unary =
  (f: (x: Tensor) => Tensor): TfOpConverter =>
  (c) =>
    f(c.input(0));

/** Converters for elementwise TF ops, by op name. */
export const MATH_OPS: Readonly<Record<string, TfOpConverter>> = {
  Add: binary(add),
  AddV2: binary(add),
  BiasAdd: (c) => {
    const format = c.attrs.string('data_format', 'NHWC');
    if (format !== 'NHWC') throw c.error(`data_format ${format} is not supported`);
    return add(c.input(0), c.input(1));
  },
  Sub: binary(sub),
  Mul: binary(mul),
  RealDiv: binary(div),
  Div: binary(div),
  Maximum: binary(maximum),
  Minimum: binary(minimum),
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
    return cast(c.input(0), to);
  },
};
