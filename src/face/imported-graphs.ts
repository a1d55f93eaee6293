/**
 * Engine graphs for the npm-shipped models described in models.ts: TF.js graph models converted by src/import
 * (wrapped to take NCHW RGB input named 'image', the engine's layout), and face-api's ResNet-34 built from its
 * weights. Nothing is downloaded: the files come from the packages `npm install` put in node_modules.
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
import { convertTfjsGraph, loadTfjsGraph } from '../import/tfjs-graph.js';
import { blazeFaceAnchors } from './blazeface-decode.js';
import { faceApiResNet34, loadFaceApiWeights } from './faceapi-resnet.js';
import {
  type ImportedDetectorModel,
  type ImportedRecognizerModel,
  type PackageFile,
  importedDetectorModel,
  importedRecognizerModel,
} from './models.js';

const require = createRequire(import.meta.url);

/** An npm-shipped recogniser's graph: NCHW float32 'image' [batch, 3, size, size] in, 'embedding' out. */
export interface ImportedRecognizer {
  readonly model: ImportedRecognizerModel;
  /** Graph input: NCHW float32 [batch, 3, inputSize, inputSize], normalised as `model.normalization` says. */
  readonly inputName: 'image';
  /** Graph output: [batch, dim], not normalised. */
  readonly outputName: 'embedding';
  /** The engine graph for a batch of `batch` crops (shapes are static: one graph per batch size). */
  graph(batch: number): GraphSpec;
  /** The same graph as ONNX (opset 17) model bytes. */
  onnx(batch: number): Uint8Array;
}

/** An npm-shipped BlazeFace detector's graph: raw anchor outputs, decoded by `decodeBlazeFace`. */
export interface ImportedDetector {
  readonly model: ImportedDetectorModel;
  readonly inputName: 'image';
  /**
   * Outputs: 'regressors' [1, anchors, 16] (box centre offset, size, then 6 keypoint offsets, in input
   * pixels relative to each anchor) and 'scores' [1, anchors] (probabilities).
   */
  readonly outputNames: readonly ['regressors', 'scores'];
  /** Anchor centres in input pixels, [x, y] per anchor, in output order. */
  readonly anchors: Float32Array;
  graph(): GraphSpec;
  onnx(): Uint8Array;
}

/** Absolute path of a file inside an installed npm package. */
export function packagePath(f: PackageFile): string {
  return join(dirname(require.resolve(`${f.package}/package.json`)), f.file);
}

/** NCHW image input, transposed to the NHWC a TF graph takes. */
function nhwcImage(batch: number, size: number): Tensor {
  return transpose(input('image', [batch, 3, size, size]), [0, 2, 3, 1]);
}

/**
 * Build an npm-shipped recogniser's graph (reads the package's files).
 * @throws for an unknown name, listing the known ones
 */
export async function loadImportedRecognizer(name: string): Promise<ImportedRecognizer> {
  const model = importedRecognizerModel(name);
  const { inputSize: size, dim, spec } = model;
  let graph: (batch: number) => GraphSpec;
  if (model.graph.kind === 'tfjs') {
    const g = await loadTfjsGraph(packagePath(model.graph.from));
    const placeholder = g.inputs[0].name;
    const output = model.graph.output;
    graph = (batch) => {
      const nhwc = nhwcImage(batch, size);
      const out = convertTfjsGraph(g, { batch, inputs: { [placeholder]: nhwc }, outputs: [output] })[output];
      return { outputs: { embedding: reshape(out, [batch, dim]) }, name: spec };
    };
  } else {
    const weights = await loadFaceApiWeights(packagePath(model.graph.from));
    graph = (batch) => ({
      outputs: { embedding: faceApiResNet34(weights, input('image', [batch, 3, size, size])) },
      name: spec,
    });
  }
  return {
    model,
    inputName: 'image',
    outputName: 'embedding',
    graph,
    onnx: (batch) => lower(graph(batch)).bytes,
  };
}

/**
 * Build an npm-shipped detector's graph.
 * @throws for an unknown name, listing the known ones
 */
export async function loadImportedDetector(name: string): Promise<ImportedDetector> {
  const model = importedDetectorModel(name);
  const size = model.inputSize;
  const g = await loadTfjsGraph(packagePath(model.graph.from));
  const placeholder = g.inputs[0].name;
  const graph = (): GraphSpec => {
    const outs = Object.values(convertTfjsGraph(g, { inputs: { [placeholder]: nhwcImage(1, size) } }));
    // Four heads: scores and regressors for each of the two grids; the finer grid (more rows) comes first.
    const pick = (width: number): Tensor[] =>
      outs.filter((t) => t.shape[2] === width).sort((a, b) => b.shape[1] - a.shape[1]);
    const regressors = concat(pick(16), 1);
    const logits = concat(pick(1), 1);
    return {
      outputs: { regressors, scores: sigmoid(reshape(logits, [1, logits.shape[1]])) },
      name: model.spec,
    };
  };
  return {
    model,
    inputName: 'image',
    outputNames: ['regressors', 'scores'],
    anchors: blazeFaceAnchors(size),
    graph,
    onnx: () => lower(graph()).bytes,
  };
}
