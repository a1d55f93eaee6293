/** TensorFlow.js models -> engine graphs -> ONNX: the importer and the zoo of npm-shipped models. */
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
export {
  FACEAPI_INPUT_SIZE,
  FACEAPI_MEAN_RGB,
  faceApiResNet34,
  loadFaceApiWeights,
  type FaceApiWeights,
} from './faceapi-resnet.js';
export { decodeBlazeFace, type BlazeFaceDetection } from './blazeface-decode.js';
export {
  DLIB_CHIP_TEMPLATE_150,
  HUMAN_FACERES_TEMPLATE_224,
  IMPORTED_DETECTORS,
  IMPORTED_RECOGNIZERS,
  arcfaceCropTemplate,
  blazeFaceAnchors,
  loadImportedDetector,
  loadImportedRecognizer,
  type CropPoint,
  type ImportedDetector,
  type ImportedDetectorName,
  type ImportedRecognizer,
  type ImportedRecognizerName,
  type InputScaling,
} from './zoo.js';
