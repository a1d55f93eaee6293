/**
 * Recognisers from user-supplied ONNX files (`onnx:PATH`): InsightFace ArcFace models and others taking an
 * aligned RGB crop and returning one embedding per crop.
 */
import { INSIGHTFACE_NORMALIZATION, knownRecognizer } from './models.js';
import {
  type FaceSessionOptions,
  type OnnxModel,
  ModelShapeError,
  fixedDim,
  formatShape,
  loadOnnxModel,
} from './onnx-model.js';
import { type PixelNormalization, writeChw, writeHwc } from './tensor-input.js';
import { type CropRow, embedCrops } from './flip-embed.js';
import type { FaceRecognizer, RgbImage } from './types.js';

export interface OnnxRecognizerOptions extends FaceSessionOptions {
  /**
   * Input convention. Default: the zoo's entry for this file when it knows it (matched by SHA-256), otherwise
   * InsightFace's RGB (x - 127.5) / 127.5.
   */
  readonly normalization?: PixelNormalization;
  /**
   * Embed each crop and its mirror image, sum, and L2-normalise (InsightFace's evaluation protocol; about
   * +0.1..0.5 points on LFW for twice the recogniser time). Default: the zoo's choice for a known model
   * (src/face/models.ts), true otherwise.
   */
  readonly flip?: boolean;
  /** Crops per session run when the model's batch dimension is dynamic (default 32). */
  readonly batchSize?: number;
  /** Overrides the zoo's cosine threshold for this model. */
  readonly threshold?: number;
}

/**
 * Load a recogniser from an ONNX file. The input layout (NCHW or NHWC), crop size and batch dimension are
 * read from the model; a model with a fixed batch of 1 is run once per crop.
 * @param path the .onnx file; one float32 image input [N,3,H,W] or [N,H,W,3], one output [N,D] (or
 *   [N,D,1,1]) with D in {@link RECOGNIZER_DIM_RANGE}
 * @throws {@link ModelShapeError} naming the file and its shapes when it is not shaped like a recogniser
 */
export async function loadOnnxRecognizer(
  path: string,
  opts: OnnxRecognizerOptions = {},
): Promise<FaceRecognizer> {
  const model = await loadOnnxModel(path, opts);
  try {
    return await recognizerOf(model, path, opts);
  } catch (err) {
    await model.session.dispose();
    throw err;
  }
}

/** Embedding sizes a recogniser may have; outside them the model is something else (SCRFD's scores: 1). */
export const RECOGNIZER_DIM_RANGE = { min: 64, max: 4096 } as const;

const NEEDS =
  `a face recogniser has one float32 image input [N,3,H,W] (or [N,H,W,3]) and one output [N,D] ` +
  `(or [N,D,1,1]) with D in ${RECOGNIZER_DIM_RANGE.min}..${RECOGNIZER_DIM_RANGE.max}`;

async function recognizerOf(
  model: OnnxModel,
  path: string,
  opts: OnnxRecognizerOptions,
): Promise<FaceRecognizer> {
  const inputName = model.session.inputNames[0];
  const outputName = model.session.outputNames[0];
  const inputs = [...model.inputShapes].map(([name, s]) => `'${name}' ${formatShape(s)}`).join(', ');
  const refuse: (has: string) => never = (has) => {
    throw new ModelShapeError(path, `${path} is not a face recogniser: ${NEEDS}; it has ${has}`);
  };
  const shape = model.inputShapes.get(inputName);
  if (
    model.session.inputNames.length !== 1 ||
    !shape ||
    shape.length !== 4 ||
    (shape[1] !== 3 && shape[3] !== 3)
  ) {
    refuse(`input ${inputs || '(none)'}`);
  }
  const nhwc = shape[3] === 3 && shape[1] !== 3;
  const [h, w] = nhwc ? [fixedDim(shape[1]), fixedDim(shape[2])] : [fixedDim(shape[2]), fixedDim(shape[3])];
  const height = h ?? 112;
  const width = w ?? 112;
  const fixedBatch = fixedDim(shape[0]);
  const maxBatch = fixedBatch ?? Math.max(1, opts.batchSize ?? 32);
  const known = knownRecognizer(model.sha256);
  const norm = opts.normalization ?? known?.normalization ?? INSIGHTFACE_NORMALIZATION;
  const flip = opts.flip ?? known?.flip ?? true;
  const write = nhwc ? writeHwc : writeChw;

  const dims = (batch: number): number[] => (nhwc ? [batch, height, width, 3] : [batch, 3, height, width]);

  /**
   * Model outputs for `rows` (a crop, mirrored or not), run `maxBatch` rows at a time; a fixed batch is
   * padded with zeros. One output vector per row, in order.
   */
  async function runRows(rows: readonly CropRow[]): Promise<Float32Array[]> {
    const outputs: Float32Array[] = [];
    for (let start = 0; start < rows.length; start += maxBatch) {
      const chunk = rows.slice(start, start + maxBatch);
      const batch = fixedBatch ?? chunk.length;
      const input = new Float32Array(batch * 3 * width * height);
      chunk.forEach(({ crop, flip: mirrored }, i) => {
        if (crop.width !== width || crop.height !== height) {
          throw new Error(
            `${path}: crop is ${crop.width}x${crop.height}, the model takes ${width}x${height}`,
          );
        }
        write(crop, norm, input, i, mirrored);
      });
      const out = await model.session.run({ [inputName]: { data: input, dims: dims(batch) } });
      const t = out[outputName];
      if (t.type !== 'float32')
        throw new Error(`${path}: output '${outputName}' is ${t.type}, expected float32`);
      const data = t.data as Float32Array;
      const dim = data.length / batch;
      for (let i = 0; i < chunk.length; i++) outputs.push(data.slice(i * dim, (i + 1) * dim));
    }
    return outputs;
  }

  // One run on a black crop gives the outputs' real shapes (metadata leaves dynamic ones open): a recogniser
  // answers one crop with one [1, D] vector. A detector answers with anchors (SCRFD: nine outputs [A, k]).
  const batch = fixedBatch ?? 1;
  const probe = await model.session
    .run({ [inputName]: { data: new Float32Array(batch * 3 * width * height), dims: dims(batch) } })
    .catch((err: unknown) =>
      refuse(
        `input ${inputs}, and running it on one ${width}x${height} crop fails (${err instanceof Error ? err.message : String(err)})`,
      ),
    );
  const outputs = model.session.outputNames.map((name) => `'${name}' ${formatShape(probe[name].dims)}`);
  const out = probe[outputName];
  const dim = out.dims[1];
  if (
    outputs.length !== 1 ||
    out.type !== 'float32' ||
    out.dims[0] !== batch ||
    !(out.dims.length === 2 || (out.dims.length === 4 && out.dims[2] === 1 && out.dims[3] === 1)) ||
    dim < RECOGNIZER_DIM_RANGE.min ||
    dim > RECOGNIZER_DIM_RANGE.max
  ) {
    refuse(
      `input ${inputs} and ${outputs.length} output${outputs.length === 1 ? '' : 's'} ` +
        `${outputs.join(', ')} (shapes at a ${batch}x3x${height}x${width} input${out.type === 'float32' ? '' : `; ${out.type}`})`,
    );
  }

  return {
    spec: `onnx:${path}`,
    dim,
    inputSize: { width, height },
    threshold: opts.threshold ?? known?.calibration?.threshold,
    calibration: opts.threshold === undefined ? known?.calibration : undefined,
    flip,
    description: known ? `${known.name}; terms: ${known.terms}` : undefined,
    embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
      return embedCrops(crops, flip, dim, `onnx:${path}`, runRows);
    },
    dispose: () => model.session.dispose(),
  };
}
