/**
 * TF convolutions, pools and matrix products: Conv2D, DepthwiseConv2dNative, their fused forms
 * (_FusedConv2D, FusedDepthwiseConv2dNative: BiasAdd then an activation), MaxPool, AvgPool, MatMul and
 * _FusedMatMul, BatchMatMulV2. Convs and pools run NCHW between two transposes; filters are relaid out on the
 * host. A MatMul of two constants is folded on the host.
 */
import {
  type Tensor,
  add,
  avgPool2d,
  conv2d,
  gemm,
  matmul,
  maxPool2d,
  reshape,
  transpose,
} from '../../engine/index.js';
import type { HostTensor } from '../tfjs-weights.js';
import type { OpContext, TfOpConverter } from './context.js';
import { foldable, hostTensor } from './fold.js';
import { permuteHost, reshapeHost, toNchw, toNhwc, windowPads } from './layout.js';
import { activation } from './math.js';

function checkNhwc(c: OpContext): void {
  const format = c.attrs.string('data_format', 'NHWC');
  if (format !== 'NHWC') throw c.error(`data_format ${format} is not supported (only NHWC)`);
}

/** The spatial pair of an NHWC attribute list such as strides [1, sh, sw, 1]. */
function spatial(c: OpContext, key: string): [number, number] {
  const v = c.attrs.ints(key, [1, 1, 1, 1]);
  if (v.length !== 4) throw c.error(`attribute ${key} must list 4 values`);
  return [v[1], v[2]];
}

/**
 * A filter in ONNX layout: HWIO -> OIHW for a plain conv; for a depthwise [H, W, C, M] filter,
 * [C * M, 1, H, W] so output channel c * M + m reads input channel c, as TF orders them.
 */
function onnxFilter(c: OpContext, depthwise: boolean): Tensor {
  const w = c.input(1);
  if (w.rank !== 4) throw c.error(`filter must be 4-D, got ${w}`);
  const [h, wd, ci, m] = w.shape;
  const perm = depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1];
  const target = depthwise ? [ci * m, 1, h, wd] : [m, ci, h, wd];
  const host = c.constValue(1);
  if (host) return c.constant(reshapeHost(permuteHost(host, perm), target));
  return reshape(transpose(w, perm), target);
}

/** The fused ops of a _Fused* node: a leading BiasAdd consumes args[0], a Prelu the next arg. */
function fusedParts(c: OpContext, firstArg: number): { bias?: Tensor; act?: string; alpha?: Tensor } {
  const ops = c.attrs.strings('fused_ops');
  let arg = firstArg;
  let bias: Tensor | undefined;
  let act: string | undefined;
  let alpha: Tensor | undefined;
  for (const op of ops) {
    if (op === 'BiasAdd') bias = c.input(arg++);
    else if (op === 'FusedBatchNorm') throw c.error('fused batch norm is not supported');
    else if (act) throw c.error(`more than one fused activation (${act}, ${op})`);
    else {
      act = op;
      if (op === 'Prelu') alpha = c.input(arg++);
    }
  }
  return { bias, act, alpha };
}

function convolution(c: OpContext, depthwise: boolean, fused: boolean): Tensor {
  checkNhwc(c);
  const x = c.input(0);
  if (x.rank !== 4) throw c.error(`input must be 4-D NHWC, got ${x}`);
  const w = onnxFilter(c, depthwise);
  const strides = spatial(c, 'strides');
  const dilations = spatial(c, 'dilations');
  const kernel: [number, number] = [w.shape[2], w.shape[3]];
  const pads = windowPads(
    c.attrs.string('padding'),
    c.attrs.ints('explicit_paddings', []),
    x,
    kernel,
    strides,
    dilations,
  );
  const group = depthwise ? x.shape[3] : x.shape[3] / c.input(1).shape[2];
  if (!Number.isInteger(group)) throw c.error(`input channels ${x.shape[3]} do not fit the filter`);
  const parts = fused ? fusedParts(c, 2) : {};
  let y = conv2d(toNchw(x), w, { strides, pads, dilations, group });
  // ONNX Runtime folds a channel-broadcast Add into the Conv's bias.
  if (parts.bias) y = add(y, reshape(parts.bias, [1, -1, 1, 1]));
  y = toNhwc(y);
  return parts.act ? activation(c, parts.act, y, parts.alpha, c.attrs.float('leakyrelu_alpha', 0.2)) : y;
}

function pool(c: OpContext, kind: 'MaxPool' | 'AveragePool'): Tensor {
  checkNhwc(c);
  const x = c.input(0);
  const kernel = spatial(c, 'ksize');
  const strides = spatial(c, 'strides');
  const pads = windowPads(
    c.attrs.string('padding'),
    c.attrs.ints('explicit_paddings', []),
    x,
    kernel,
    strides,
  );
  const y =
    kind === 'MaxPool'
      ? maxPool2d(toNchw(x), { kernel, strides, pads })
      : // TF's 'SAME' average pool divides by the pixels inside the image, not the padded window.
        avgPool2d(toNchw(x), { kernel, strides, pads, countIncludePad: false });
  return toNhwc(y);
}

function matrixProduct(c: OpContext, fused: boolean): Tensor {
  const a = c.input(0);
  const b = c.input(1);
  const ta = c.attrs.bool('transpose_a');
  const tb = c.attrs.bool('transpose_b');
  if (a.rank !== 2 || b.rank !== 2) throw c.error(`operands must be 2-D, got ${a} and ${b}`);
  let y = gemm(a, b, ta, tb);
  if (!fused) return y;
  const parts = fusedParts(c, 2);
  if (parts.bias) y = add(y, parts.bias);
  return parts.act ? activation(c, parts.act, y, parts.alpha, c.attrs.float('leakyrelu_alpha', 0.2)) : y;
}

/** A 2-D matrix product on the host, for constant operands (Keras's `repeat` multiplies int32 index columns). */
function hostMatMul(a: HostTensor, b: HostTensor, ta: boolean, tb: boolean): HostTensor {
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error('constant MatMul operands must be 2-D');
  const [m, k] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [k2, n] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (k !== k2) throw new Error(`MatMul inner dimensions differ: ${k} and ${k2}`);
  const at = (i: number, j: number): number => (ta ? a.data[j * m + i] : a.data[i * k + j]);
  const bt = (i: number, j: number): number => (tb ? b.data[j * k + i] : b.data[i * n + j]);
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      out[i * n + j] = s;
    }
  }
  return hostTensor(a.dtype, [m, n], out);
}

/** BatchMatMulV2: a product over the last two axes, batch axes broadcast; adj_x / adj_y transpose them. */
function batchMatMul(c: OpContext): Tensor {
  const swap = (t: Tensor): Tensor => {
    const p = t.shape.map((_, i) => i);
    [p[t.rank - 2], p[t.rank - 1]] = [p[t.rank - 1], p[t.rank - 2]];
    return transpose(t, p);
  };
  const a = c.input(0);
  const b = c.input(1);
  if (a.rank < 2 || b.rank < 2) throw c.error(`operands must have rank >= 2, got ${a} and ${b}`);
  return matmul(c.attrs.bool('adj_x') ? swap(a) : a, c.attrs.bool('adj_y') ? swap(b) : b);
}

/** Converters for conv, pool and matmul TF ops, by op name. */
export const CONV_OPS: Readonly<Record<string, TfOpConverter>> = {
  Conv2D: (c) => convolution(c, false, false),
  _FusedConv2D: (c) => convolution(c, false, true),
  DepthwiseConv2dNative: (c) => convolution(c, true, false),
  FusedDepthwiseConv2dNative: (c) => convolution(c, true, true),
  MaxPool: (c) => pool(c, 'MaxPool'),
  AvgPool: (c) => pool(c, 'AveragePool'),
  MatMul: foldable(
    (c, [a, b]) => hostMatMul(a, b, c.attrs.bool('transpose_a'), c.attrs.bool('transpose_b')),
    (c) => matrixProduct(c, false),
  ),
  BatchMatMulV2: batchMatMul,
  BatchMatMul: batchMatMul,
  _FusedMatMul: (c) => matrixProduct(c, true),
};
