/** Element types the engine knows. Engine tensors are float32 unless a test asks for float64. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

/** The typed array that carries each dtype across the ONNX Runtime boundary. */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export type TypedArray = TypedArrayOf[DType];

/** ONNX TensorProto.DataType codes. */
export const ONNX_ELEM_TYPE: Record<DType, number> = {
  float32: 1,
  float64: 11,
  int64: 7,
  int32: 6,
  bool: 9,
};

/** ONNX Runtime's names for the same types. */
export const ORT_TYPE: Record<DType, 'float32' | 'float64' | 'int64' | 'int32' | 'bool'> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

/** Allocate a zero-filled typed array of the dtype. */
export function allocate<D extends DType>(dtype: D, size: number): TypedArrayOf[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size) as TypedArrayOf[D];
    case 'float64':
      return new Float64Array(size) as TypedArrayOf[D];
    case 'int64':
      return new BigInt64Array(size) as TypedArrayOf[D];
    case 'int32':
      return new Int32Array(size) as TypedArrayOf[D];
    case 'bool':
      return new Uint8Array(size) as TypedArrayOf[D];
  }
  throw new Error(`unknown dtype ${String(dtype)}`);
}

/** Copy plain numbers into a typed array of the dtype. */
export function fromNumbers<D extends DType>(dtype: D, values: ArrayLike<number>): TypedArrayOf[D] {
  const out = allocate(dtype, values.length);
  if (dtype === 'int64') {
    const o = out as BigInt64Array;
    for (let i = 0; i < values.length; i++) o[i] = BigInt(Math.trunc(values[i]));
  } else {
    const o = out as Float32Array;
    for (let i = 0; i < values.length; i++) o[i] = values[i];
  }
  return out;
}

/** Which dtype a typed array carries. */
export function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  return 'bool';
}
