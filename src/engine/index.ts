/**
 * The engine: symbolic tensors, primitives with shape rules / ONNX emission / VJPs, reverse-mode
 * autodiff, ONNX serialisation and the ONNX Runtime runtime. Nothing here knows about faces.
 */
export * from './dtype.js';
export { Tensor, type Shape, input, constant, scalar, zeros, full, sizeOf } from './tensor.js';
export { type OpDef, type OpNode, type Emitter, type OnnxAttr, ShapeError, apply, apply1 } from './op.js';
export * from './ops/elementwise.js';
export * from './ops/shape.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export * from './ops/gemm.js';
export * from './ops/reduce-l2.js';
export * from './ops/softmax.js';
export * from './ops/topk.js';
export * from './ops/conv.js';
export * from './ops/pool.js';
export * from './ops/norm.js';
export * from './ops/activation.js';
export * from './ops/dropout.js';
export { grad } from './grad.js';
export { DEFAULT_LOWERINGS, type Lowerings, lowerings, parseLowerings, setLowerings } from './lowering.js';
export { lower, OPSET, type GraphSpec, type LoweredGraph, type ValueSpec } from './onnx.js';
export {
  Program,
  evaluate,
  cachedSessionCount,
  clearSessionCache,
  type RuntimeOptions,
  type Feeds,
} from './runtime.js';
export {
  Session,
  SessionDisposedError,
  executionProviders,
  type SessionFeed,
  type SessionOptions,
  type SessionOutput,
  type SessionTensor,
} from './session.js';
