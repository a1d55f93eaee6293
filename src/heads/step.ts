/**
 * A head on its own as a runnable step: loss and gradients for x and W (and b) from plain arrays,
 * with the batch checked in TypeScript first. Used by tests, the bench, and anyone training a head
 * on fixed embeddings; a full trainer builds marginHead / partialFcHead into its own step graph.
 */
import * as E from '../engine/index.js';
import { marginHead } from './margin.js';
import { partialFcHead, sampleClasses, sampledCount } from './partial-fc.js';
import { type HeadConfig } from './presets.js';
import { seededRandom } from '../util/random.js';
import { validateFinite, validateLabels } from './validate.js';

/** What to compile. */
export interface HeadStepSpec {
  readonly config: HeadConfig;
  /** Batch size B. */
  readonly batch: number;
  /** Embedding size D. */
  readonly dim: number;
  /** Number of classes C (W has C * k rows). */
  readonly classes: number;
  /** Partial FC sample rate in (0, 1]; omitted = the full head. */
  readonly sampleRate?: number;
  /** Seed of the Partial FC class sampler (default 0). */
  readonly seed?: number;
  /** Partial FC only: return the dense gradient of the full W (zero off the sample) instead of the sampled rows'. */
  readonly denseGrad?: boolean;
  /** Also fetch the [B, C] (or [B, S]) logits. */
  readonly withLogits?: boolean;
}

/** One batch, row-major. */
export interface HeadBatch {
  /** Embeddings [B * D]. */
  readonly x: Float32Array;
  /** Class centres [C * k * D]. */
  readonly weight: Float32Array;
  /** Class per row, -1 = ignored. */
  readonly labels: BigInt64Array;
  /** Bias [C] (softmax preset with bias). */
  readonly bias?: Float32Array;
}

/** Loss and gradients of one step. */
export interface HeadStepResult {
  readonly loss: number;
  /** dLoss/dx [B * D]. */
  readonly gradX: Float32Array;
  /**
   * dLoss/dW: [C * k * D] for the full head (or with denseGrad); with Partial FC, [S * k * D] for
   * the rows of `index` (class index[i] owns rows i*k .. i*k+k-1).
   */
  readonly gradW: Float32Array;
  readonly gradBias?: Float32Array;
  /** Partial FC: the classes sampled this step. */
  readonly index?: BigInt64Array;
  /** Partial FC: labels remapped into the sample. */
  readonly remapped?: BigInt64Array;
  readonly logits?: Float32Array;
}

/** A compiled head step. */
export interface HeadStep {
  readonly spec: HeadStepSpec;
  /** Classes per step: C, or the Partial FC sample size. */
  readonly sampled: number;
  run(batch: HeadBatch): Promise<HeadStepResult>;
}

/**
 * Compile loss + gradients of a head for fixed shapes.
 * @param opts runtime options (threads, device); float feeds are checked for NaN unless
 *   checkFinite is false (x always is)
 */
export async function compileHeadStep(spec: HeadStepSpec, opts: E.RuntimeOptions = {}): Promise<HeadStep> {
  const { config, batch, dim, classes } = spec;
  const k = config.kind === 'margin' ? config.subCenters : 1;
  const partial = spec.sampleRate !== undefined;
  const sampled = partial ? sampledCount(classes, spec.sampleRate!) : classes;
  const x = E.input('x', [batch, dim]);
  const weight = E.input('W', [classes * k, dim]);
  const labels = E.input('labels', [batch], 'int64');
  const outputs: Record<string, E.Tensor> = {};
  const hasBias = !partial && config.kind === 'softmax' && config.bias;
  if (partial) {
    const index = E.input('index', [sampled], 'int64');
    const head = partialFcHead({ x, weight, index, labels }, config);
    const [gx, gw] = E.grad(head.loss, [x, spec.denseGrad ? weight : head.weightSample]);
    Object.assign(outputs, { loss: head.loss, gradX: gx, gradW: gw });
    if (spec.withLogits) outputs.logits = head.logits;
  } else {
    const bias = hasBias ? E.input('b', [classes]) : undefined;
    const head = marginHead({ x, weight, labels, bias }, config);
    const [gx, gw, gb] = E.grad(head.loss, bias ? [x, weight, bias] : [x, weight]);
    Object.assign(outputs, { loss: head.loss, gradX: gx, gradW: gw });
    if (gb) outputs.gradBias = gb;
    if (spec.withLogits) outputs.logits = head.logits;
  }
  const program = await E.Program.compile({ outputs }, opts);
  const random = seededRandom(spec.seed ?? 0);

  const run = async (b: HeadBatch): Promise<HeadStepResult> => {
    const need = (name: string, got: number, want: number): void => {
      if (got !== want) throw new Error(`head step: ${name} has ${got} values, expected ${want}`);
    };
    need('x', b.x.length, batch * dim);
    need('W', b.weight.length, classes * k * dim);
    validateLabels(b.labels, classes, batch);
    validateFinite('embeddings x', b.x, dim);
    const feeds: Record<string, E.TypedArray> = { x: b.x, W: b.weight, labels: b.labels };
    let sample: ReturnType<typeof sampleClasses> | undefined;
    if (partial) {
      sample = sampleClasses(b.labels, classes, spec.sampleRate!, random);
      feeds.index = sample.index;
      feeds.labels = sample.remapped;
    } else if (hasBias) {
      if (!b.bias) throw new Error('head step: the softmax preset with bias needs `bias`');
      need('bias', b.bias.length, classes);
      feeds.b = b.bias;
    }
    const out = await program.run(feeds);
    return {
      loss: Number(out.loss[0]),
      gradX: out.gradX as Float32Array,
      gradW: out.gradW as Float32Array,
      gradBias: out.gradBias as Float32Array | undefined,
      index: sample?.index,
      remapped: sample?.remapped,
      logits: out.logits as Float32Array | undefined,
    };
  };
  return { spec, sampled, run };
}
