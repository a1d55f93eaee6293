/**
 * Margin-softmax heads: softmax, NormFace, SphereFace, CosFace, ArcFace, combined margins,
 * sub-centre ArcFace, and Partial FC. Built on the engine; nothing here knows about images.
 */
export * from './presets.js';
export { marginHead, type HeadInputs, type HeadOutputs } from './margin.js';
export { maskedCrossEntropy, targetIndex } from './cross-entropy.js';
export {
  partialFcHead,
  sampleClasses,
  sampledCount,
  scatterRows,
  type ClassSample,
  type PartialFcInputs,
  type PartialFcOutputs,
} from './partial-fc.js';
export { seededRandom } from '../util/random.js';
export { checkHeadShapes, validateFinite, validateLabels, type HeadDims } from './validate.js';
export {
  compileHeadStep,
  type HeadBatch,
  type HeadStep,
  type HeadStepResult,
  type HeadStepSpec,
} from './step.js';
