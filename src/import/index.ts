/**
 * TensorFlow.js graph models -> engine graphs -> ONNX: a converter with no knowledge of what the graphs
 * compute (the npm-shipped face models are described and built in src/face).
 */
export {
  convertTfjsGraph,
  loadTfjsGraph,
  tfjsGraph,
  tfjsToOnnx,
  type ConvertOptions,
  type TfGraphInput,
  type TfjsGraph,
} from './tfjs-graph.js';
export { parseModelJson, type TfNode, type TfjsModelJson, type TfWeightGroup } from './tfjs-format.js';
export { decodeWeights, readWeights, type HostTensor } from './tfjs-weights.js';
export { TF_OPS, TfImportError } from './tf-ops/index.js';
