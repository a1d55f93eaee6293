/** Mean softmax cross-entropy over the rows whose label is not -1, without a dense one-hot. */
import * as E from '../engine/index.js';

/**
 * The label side of a head: where each row's target column is and whether the row counts.
 * @param labels int64 [B], -1 = ignored row
 */
export function targetIndex(labels: E.Tensor): { index: E.Tensor; valid: E.Tensor } {
  const [b] = labels.shape;
  // Ignored rows point at column 0 so gathers stay in range; `valid` masks them out.
  return {
    index: E.reshape(E.maximum(labels, E.scalar(0, 'int64')), [b, 1]),
    valid: E.reshape(E.greaterOrEqual(labels, E.scalar(0, 'int64')), [b, 1]),
  };
}

/**
 * Mean over valid rows of -log softmax(logits)[row, label].
 * @param logits [B, C]
 * @param index int64 [B, 1] target column per row (from targetIndex)
 * @param valid bool [B, 1] rows that count
 * @returns scalar loss (0 when no row counts; validateLabels rejects such batches first)
 */
export function maskedCrossEntropy(logits: E.Tensor, index: E.Tensor, valid: E.Tensor): E.Tensor {
  const picked = E.gatherElements(E.logSoftmax(logits, 1), index, 1);
  const weight = E.cast(valid, logits.dtype);
  const count = E.maximum(E.reduceSum(weight), 1);
  return E.neg(E.div(E.reduceSum(E.mul(picked, weight)), count));
}
