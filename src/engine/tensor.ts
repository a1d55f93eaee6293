import { type DType, type TypedArray, allocate, fromNumbers, dtypeOf } from './dtype.js';
import type { OpNode } from './op.js';

export type Shape = readonly number[];

/** Where a symbolic tensor's value comes from. */
export type Source =
  | { readonly kind: 'input'; readonly name: string }
  | { readonly kind: 'const'; readonly data: TypedArray }
  | { readonly kind: 'op'; readonly node: OpNode; readonly index: number };

let nextId = 0;

/**
 * A symbolic tensor: a static shape, a dtype, and where its value comes from.
 * Nothing is computed when a Tensor is made; graphs are emitted as ONNX and run
 * by ONNX Runtime (see runtime.ts).
 */
export class Tensor {
  /** Creation order; reverse-mode autodiff walks nodes by decreasing id. */
  readonly id: number = nextId++;
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly source: Source,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Human-readable description for error messages, e.g. `float32[8,16]`. */
  toString(): string {
    return `${this.dtype}[${this.shape.join(',')}]`;
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: invalid shape [${shape.join(',')}]`);
  }
}

/**
 * A named graph input (a data feed or a parameter fed at run time).
 * @param name unique name of the ONNX graph input
 * @param shape static shape
 */
export function input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
  checkShape(shape, `input '${name}'`);
  return new Tensor([...shape], dtype, { kind: 'input', name });
}

/** A constant baked into the graph as an initializer. */
export function constant(values: ArrayLike<number> | TypedArray, shape: Shape, dtype?: DType): Tensor {
  checkShape(shape, 'constant');
  const isTyped = ArrayBuffer.isView(values);
  const dt: DType = dtype ?? (isTyped ? dtypeOf(values as TypedArray) : 'float32');
  const data: TypedArray =
    isTyped && dtypeOf(values as TypedArray) === dt
      ? (values as TypedArray)
      : fromNumbers(dt, Array.from(values as ArrayLike<number>, Number));
  if (data.length !== sizeOf(shape)) {
    throw new Error(`constant: ${data.length} values do not fill shape [${shape.join(',')}]`);
  }
  return new Tensor([...shape], dt, { kind: 'const', data });
}

/** A rank-0 constant. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return constant([value], [], dtype);
}

/** A constant of zeros. */
export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor([...shape], dtype, { kind: 'const', data: allocate(dtype, sizeOf(shape)) });
}

/** A constant filled with one value. */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const data = allocate(dtype, sizeOf(shape));
  if (dtype === 'int64') (data as BigInt64Array).fill(BigInt(value));
  else (data as Float32Array).fill(value);
  return new Tensor([...shape], dtype, { kind: 'const', data });
}
