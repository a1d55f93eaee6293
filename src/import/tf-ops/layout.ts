/**
 * NHWC (TensorFlow) against NCHW (the engine, ONNX): activation transposes, filter relayout and TF's
 * padding arithmetic. Imported graphs keep TF's NHWC layout between ops; each spatial op is wrapped in a
 * pair of transposes, which ONNX Runtime's transpose optimiser cancels between adjacent ops.
 */
import { type Tensor, transpose } from '../../engine/index.js';
import type { HostTensor } from '../tfjs-weights.js';

export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;

export const toNchw = (x: Tensor): Tensor => transpose(x, NHWC_TO_NCHW);
export const toNhwc = (x: Tensor): Tensor => transpose(x, NCHW_TO_NHWC);

/** Permute the axes of a host tensor (for filters, which are constants: no graph op needed). */
export function permuteHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => t.shape[p]);
  const rank = shape.length;
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * t.shape[i + 1];
  const strides = perm.map((p) => inStrides[p]);
  const n = t.data.length;
  const out = new (t.data.constructor as new (n: number) => typeof t.data)(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k] * strides[k];
    out[o] = t.data[src];
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return { dtype: t.dtype, shape, data: out } as HostTensor;
}

/** A host tensor with a new shape of the same size. */
export function reshapeHost(t: HostTensor, shape: readonly number[]): HostTensor {
  return { ...t, shape: [...shape] } as HostTensor;
}

/** Padding of one spatial axis, before and after. */
export type AxisPads = readonly [before: number, after: number];

/**
 * TF's padding for one spatial axis. 'SAME' pads so the output has ceil(in / stride) positions, the odd
 * pixel going after (bottom / right), which is where TF and a symmetric ONNX auto_pad would differ.
 */
export function tfAxisPads(
  padding: string,
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
): AxisPads {
  if (padding === 'VALID') return [0, 0];
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** The [top, left, bottom, right] ONNX pads of a TF 2-D window op on an NHWC input. */
export function windowPads(
  padding: string,
  explicit: readonly number[],
  x: Tensor,
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number] = [1, 1],
): [number, number, number, number] {
  if (padding === 'EXPLICIT') {
    // explicit_paddings lists (before, after) for each NHWC axis.
    return [explicit[2], explicit[4], explicit[3], explicit[5]];
  }
  if (padding !== 'SAME' && padding !== 'VALID') throw new Error(`unsupported padding '${padding}'`);
  const [t, b] = tfAxisPads(padding, x.shape[1], kernel[0], strides[0], dilations[0]);
  const [l, r] = tfAxisPads(padding, x.shape[2], kernel[1], strides[1], dilations[1]);
  return [t, l, b, r];
}
