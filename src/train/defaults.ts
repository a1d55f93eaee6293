/**
 * Training defaults that depend on the embedding size. ArcFace's s = 64, m = 0.5 and SGD at 0.1 are
 * tuned for 512-d embeddings of many identities; in 2 or 3 dimensions the classes share a circle or
 * sphere, the margin is a large share of the room between them and s = 64 makes the loss surface
 * so steep that training oscillates (MNIST small-cnn, 2-d: held-out accuracy 52-79% over 9 epochs).
 * The low-dimensional values are those the toy experiment found stable (src/toy/run.ts). Measured
 * with `arcface train --data mnist --backbone small-cnn` (2-d, 20 epochs, seeds 0/1/2, held-out
 * accuracy after the last epoch): s = 64, m = 0.5, lr 0.1 gave 85.3 / 67.0 / 82.4% (seed 0 fell
 * from 82.2% to 48.6% between epochs 8 and 9); s = 8, m = 0.3, lr 0.02 gave 92.6 / 89.6 / 88.2%.
 */
import type { HeadConfig } from '../heads/index.js';

/** At or below this many dimensions the low-dimensional defaults apply. */
export const LOW_DIM = 3;

/** Default head scale, margin and learning rate. */
export interface TrainDefaults {
  /** Logit scale s, or undefined for the preset's own. */
  readonly scale?: number;
  /** Angular margin (ArcFace m2), or undefined for the preset's own. */
  readonly margin?: number;
  /** Peak learning rate. */
  readonly lr: number;
}

/**
 * Defaults for an embedding size, optimizer and head family.
 * @param embeddingDim D
 * @param head preset name: the low-dimensional margin applies to 'arcface' only (other families
 *   put their margin elsewhere), the scale to every margin head
 */
export function trainDefaults(
  embeddingDim: number,
  optimizer: 'sgd' | 'adamw',
  head = 'arcface',
): TrainDefaults {
  const low = embeddingDim <= LOW_DIM;
  const lr = optimizer === 'sgd' ? (low ? LOW_DIM_SGD_LR : 0.1) : 1e-3;
  if (!low || head === 'softmax') return { lr };
  return { scale: LOW_DIM_SCALE, margin: head === 'arcface' ? LOW_DIM_MARGIN : undefined, lr };
}

const LOW_DIM_SCALE = 8;
const LOW_DIM_MARGIN = 0.3;
const LOW_DIM_SGD_LR = 0.02;

/**
 * Warnings for settings known to train badly at a low embedding size (printed before a run starts).
 * @returns one sentence per problem; empty when nothing is known to be wrong
 */
export function lowDimWarnings(
  embeddingDim: number,
  head: HeadConfig,
  lr: number,
  optimizer: 'sgd' | 'adamw',
): string[] {
  if (embeddingDim > LOW_DIM || head.kind !== 'margin') return [];
  const out: string[] = [];
  if (head.s > 2 * LOW_DIM_SCALE) {
    out.push(
      `s = ${head.s} with ${embeddingDim}-d embeddings: large scales make low-dimensional training ` +
        `oscillate; s = ${LOW_DIM_SCALE} trains stably`,
    );
  }
  if (optimizer === 'sgd' && lr > 2.5 * LOW_DIM_SGD_LR) {
    out.push(`SGD lr ${lr} with ${embeddingDim}-d embeddings is high; ${LOW_DIM_SGD_LR} trains stably`);
  }
  return out;
}
