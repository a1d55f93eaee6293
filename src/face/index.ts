/** Face detection, alignment and embedding: the public face API. */
export {
  createFacePipeline,
  LowQualityError,
  NoFaceError,
  type AssessedFace,
  type ComparedFace,
  type Detection,
  type EmbedManyOptions,
  type EmbedManyResult,
  type FaceEmbedding,
  type FacePipeline,
  type FacePipelineOptions,
  type FaceSelection,
  type NoFacePolicy,
  type StageTimes,
  type Verification,
} from './pipeline.js';
export {
  assessFace,
  checkMinQuality,
  DEFAULT_QUALITY_THRESHOLDS,
  faceQuality,
  poseOf,
  QUALITY_CROP,
  qualityCrop,
  qualityShortfall,
  sharpnessOf,
  type FaceQuality,
  type QualityMeasure,
  type QualityShortfall,
  type QualityThresholds,
  type Ramp,
} from './quality.js';
export {
  decodeImage,
  DEFAULT_MAX_PIXELS,
  ImageError,
  type DecodeOptions,
  type ImageErrorCode,
  type ImageInput,
  type RawImage,
} from './image.js';
export {
  alignFace,
  applySimilarity,
  ARCFACE_TEMPLATE_112,
  arcfaceTemplate,
  estimateSimilarity,
  invertSimilarity,
  warpSimilarity,
  type Similarity,
} from './align.js';
export {
  DEFAULT_DETECTOR,
  DEFAULT_RECOGNIZER,
  loadDetector,
  loadRecognizer,
  parseDetectorSpec,
  parseRecognizerSpec,
  type DetectorSpec,
  type RecognizerSpec,
} from './zoo.js';
export {
  DLIB_CHIP_TEMPLATE_150,
  HUMAN_FACERES_TEMPLATE_224,
  IMPORTED_DETECTORS,
  IMPORTED_RECOGNIZERS,
  INSIGHTFACE_NORMALIZATION,
  importedDetectorModel,
  importedRecognizerModel,
  knownImportedRecognizer,
  knownRecognizer,
  type ImportedDetectorModel,
  type ImportedDetectorName,
  type ImportedRecognizerModel,
  type ImportedRecognizerName,
  type KnownRecognizer,
  type PackageFile,
  type RecognizerGraphSource,
  type VerifyCalibration,
} from './models.js';
export {
  DEFAULT_LANDMARKS,
  LANDMARK_SOURCES,
  MESH_CROP_SCALE,
  MIN_MESH_SCORE,
  loadMeshLandmarker,
  meshCropTransform,
  meshLandmarks5,
  parseLandmarkSource,
  type LandmarkSource,
  type MeshFit,
  type MeshLandmarker,
} from './landmarks-mesh.js';
export {
  loadImportedDetector,
  loadImportedRecognizer,
  type ImportedDetector,
  type ImportedRecognizer,
} from './imported-graphs.js';
export { blazeFaceAnchors, decodeBlazeFace, type BlazeFaceDetection } from './blazeface-decode.js';
export {
  FACEAPI_INPUT_SIZE,
  FACEAPI_MEAN_RGB,
  faceApiResNet34,
  loadFaceApiWeights,
  type FaceApiWeights,
} from './faceapi-resnet.js';
export type { DetectorOptions } from './letterbox-detector.js';
export {
  DEFAULT_MIN_FACE_SIZE,
  tilePlan,
  withTiles,
  type TileLevel,
  type TilingOptions,
} from './detect-tiled.js';
export type { OnnxRecognizerOptions } from './embed-onnx.js';
export { ModelShapeError, type FaceSessionOptions } from './onnx-model.js';
export type { PixelNormalization } from './tensor-input.js';
export { annotateFaces } from './annotate.js';
export type {
  Box,
  DetectedFace,
  FaceDetector,
  FaceRecognizer,
  Landmarks5,
  Point,
  RgbImage,
} from './types.js';
