/**
 * The classification head as a module: it owns the class centres (`head.weight`, [C * k, D]) and,
 * for the softmax preset, `head.bias`; the loss itself comes from src/heads.
 */
import * as E from '../engine/index.js';
import { type HeadConfig, type HeadOutputs, marginHead, targetIndex } from '../heads/index.js';
import { Module, type Scope } from '../nn/index.js';

/** Prefix of the head's tensors in parameter stores and checkpoints. */
export const HEAD_PREFIX = 'head';

export class ClassifierHead extends Module {
  readonly rows: number;
  readonly hasBias: boolean;

  /**
   * @param config head preset (see src/heads presets)
   * @param numClasses C
   * @param dim embedding size D
   */
  constructor(
    readonly config: HeadConfig,
    readonly numClasses: number,
    readonly dim: number,
  ) {
    super();
    this.rows = numClasses * (config.kind === 'margin' ? config.subCenters : 1);
    this.hasBias = config.kind === 'softmax' && config.bias;
    // InsightFace initialises class centres with N(0, 0.01^2); their scale does not matter for margin
    // heads (they are normalised), and it keeps the softmax head's first logits near zero.
    this.addParam('weight', [this.rows, dim], { kind: 'normal', std: 0.01 });
    if (this.hasBias) this.addParam('bias', [numClasses], { kind: 'constant', value: 0 }, false);
  }

  /**
   * Class scores without margin: [N, D] -> [N, C], the cosine to each class's closest centre (the
   * softmax preset: its logits). Their argmax is the predicted class.
   */
  call(x: E.Tensor, s: Scope): E.Tensor {
    return scores(this.config, this.loss(x, E.fill([x.shape[0]], -1, 'int64'), s));
  }

  /**
   * Loss, margin logits and cosines for labelled embeddings.
   * @param x embeddings [N, D]
   * @param labels int64 [N], -1 = ignored row
   */
  loss(x: E.Tensor, labels: E.Tensor, s: Scope): HeadOutputs {
    const weight = s.param('weight', [this.rows, this.dim]);
    const bias = this.hasBias ? s.param('bias', [this.numClasses]) : undefined;
    return marginHead({ x, weight, labels, bias }, this.config);
  }
}

/** The per-class scores whose argmax is the prediction: logits for softmax, cosines for margin heads. */
export function scores(config: HeadConfig, out: HeadOutputs): E.Tensor {
  return config.kind === 'softmax' ? out.logits : out.cos;
}

/**
 * Number of rows whose closest class (by cosine; by logit for the softmax preset) is their label.
 * @param scores [N, C]
 * @param labels int64 [N]; rows with -1 never count
 * @returns float32 [] count
 */
export function correctCount(scores: E.Tensor, labels: E.Tensor): E.Tensor {
  const { index, valid } = targetIndex(labels);
  const best = E.reduceMax(scores, 1, true);
  const hit = E.and(E.greaterOrEqual(E.gatherElements(scores, index, 1), best), valid);
  return E.reduceSum(E.cast(hit, 'float32'));
}
