/**
 * The combined margin head (InsightFace arcface_torch style): one formula covers NormFace,
 * SphereFace, CosFace, ArcFace, combined margins and sub-centre ArcFace; the softmax preset is a
 * plain FC layer. Only the B target logits are rewritten: the target column is gathered, given its
 * margin and scattered back, so no [B, C] one-hot is ever built.
 */
import * as E from '../engine/index.js';
import { maskedCrossEntropy, targetIndex } from './cross-entropy.js';
import { type HeadConfig, type MarginHeadConfig, checkConfig } from './presets.js';
import { checkHeadShapes } from './validate.js';

/** Symbolic inputs of a head. */
export interface HeadInputs {
  /** Embeddings [B, D], float32 (float64 works where every kernel has it; m1 != 1 needs float32). */
  readonly x: E.Tensor;
  /** Class centres [C * k, D]; sub-centres of class c at rows c*k .. c*k+k-1. */
  readonly weight: E.Tensor;
  /** int64 [B] class per row, -1 = ignored. */
  readonly labels: E.Tensor;
  /** Bias [C], softmax preset only. */
  readonly bias?: E.Tensor;
}

/** Symbolic outputs of a head. */
export interface HeadOutputs {
  /** Scalar mean cross-entropy over rows with label >= 0. */
  readonly loss: E.Tensor;
  /** [B, C] logits after the margin (for the softmax preset, x W^T + b). */
  readonly logits: E.Tensor;
  /** [B, C] cosine between normalised x and the closest sub-centre of each class (no margin, no s). */
  readonly cos: E.Tensor;
}

/** |sin| is clamped to at least sqrt of this, so d sin / d cos stays finite where cos = +-1. */
const MIN_SIN2 = 1e-6;
/** acos is taken of cos clamped to [-1 + ACOS_EPS, 1 - ACOS_EPS], where its gradient is finite. */
const ACOS_EPS = 1e-6;
/** F.normalize's floor on the norm: an all-zero row normalises to zeros, not NaN. */
const NORM_EPS = 1e-12;

/**
 * Build a head's loss, logits and cosines. Shapes are checked here (clear errors before anything
 * runs); labels are checked per batch with validateLabels.
 */
export function marginHead(inputs: HeadInputs, config: HeadConfig): HeadOutputs {
  const cfg = checkConfig(config);
  const { x, weight, labels, bias } = inputs;
  const k = cfg.kind === 'margin' ? cfg.subCenters : 1;
  const dims = checkHeadShapes(x, weight, labels, k, bias);
  const { index, valid } = targetIndex(labels);
  const columns = cosineColumns(x, weight, dims.classes, k);
  const cos = columns(1);
  if (cfg.kind === 'softmax') {
    if (cfg.bias && !bias) throw new Error('head: the softmax preset with bias needs a bias input [C]');
    const fc = E.gemm(x, weight, false, true);
    const logits = cfg.bias && bias ? E.add(fc, bias) : fc;
    return { loss: maskedCrossEntropy(logits, index, valid), logits, cos };
  }
  // s is folded into the column scale so the [B, C] logits cost one product, not two.
  const scaled = columns(cfg.s);
  const logits = hasMargin(cfg) ? substituteTarget(scaled, index, valid, cfg) : scaled;
  return { loss: maskedCrossEntropy(logits, index, valid), logits, cos };
}

/**
 * scale * cos(x_b, w_c) as [B, C] for any scale, max over each class's k sub-centres; every scale
 * shares one product. Rows of x are normalised up front ([B, D] is small); W's row norms scale the
 * product's columns instead, which avoids writing a normalised copy of the [C*k, D] weights, and
 * its gradient.
 */
function cosineColumns(
  x: E.Tensor,
  weight: E.Tensor,
  classes: number,
  k: number,
): (scale: number) => E.Tensor {
  const [b] = x.shape;
  const xn = E.div(x, E.maximum(E.reduceL2(x, 1, true), NORM_EPS));
  const wNorm = E.maximum(E.reshape(E.reduceL2(weight, 1, false), [1, classes * k]), NORM_EPS);
  const product = E.gemm(xn, weight, false, true);
  return (scale) => {
    const all = E.mul(product, E.div(scale, wNorm));
    return k === 1 ? all : E.reduceMax(E.reshape(all, [b, classes, k]), 2);
  };
}

function hasMargin(cfg: MarginHeadConfig): boolean {
  return cfg.m1 !== 1 || cfg.m2 !== 0 || cfg.m3 !== 0;
}

/** Replace each valid row's target logit s cos(theta) by s (cos(m1 theta + m2) - m3). */
function substituteTarget(
  scaled: E.Tensor,
  index: E.Tensor,
  valid: E.Tensor,
  cfg: MarginHeadConfig,
): E.Tensor {
  const { s, m1, m2, m3, easyMargin } = cfg;
  const t = E.div(E.gatherElements(scaled, index, 1), s);
  let phi: E.Tensor;
  let keep: E.Tensor;
  if (m1 === 1) {
    // cos(theta + m2) = cos cos(m2) - sin sin(m2); the margin stays inside [0, pi] while
    // cos > cos(pi - m2).
    const sin = E.sqrt(E.clip(E.sub(1, E.mul(t, t)), MIN_SIN2, 1));
    phi = m2 === 0 ? t : E.sub(E.mul(t, Math.cos(m2)), E.mul(sin, Math.sin(m2)));
    keep = E.greater(t, Math.cos(Math.PI - m2));
  } else {
    const angle = E.add(E.mul(E.acos(E.clip(t, -1 + ACOS_EPS, 1 - ACOS_EPS)), m1), m2);
    phi = E.cos(angle);
    keep = E.lessOrEqual(angle, Math.PI);
  }
  // Easy margin: no margin where cos <= 0. Otherwise InsightFace's fall-back keeps the target logit
  // decreasing in theta past the point where m1 theta + m2 wraps around pi.
  const target = easyMargin
    ? E.where(E.greater(t, 0), phi, t)
    : E.where(keep, phi, m2 === 0 ? t : E.sub(t, m2 * Math.sin(m2)));
  const marked = E.mul(E.where(valid, E.sub(target, m3), t), s);
  return E.scatterElements(scaled, index, marked, 1);
}
