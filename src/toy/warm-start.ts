/**
 * Training that starts from given tensors (a softmax warm-up's backbone, class centres for the
 * margin head) instead of a fresh initialisation. The trainer starts from fresh tensors or from a
 * checkpoint, so the start is a step-0 checkpoint (in memory) and training "resumes" from it.
 */
import type { Dataset } from '../data/dataset.js';
import { ParamStore } from '../nn/index.js';
import {
  type TrainConfig,
  type TrainOptions,
  type TrainResult,
  initOptimizerState,
  train,
} from '../train/index.js';

/** The tensors to start from: every parameter and buffer the config's model has. */
export interface StartTensors {
  readonly params: ParamStore;
  readonly buffers: ParamStore;
}

/**
 * Train `config` on `dataset` starting from `start` (fresh optimizer state, step 0, the config's
 * full schedule), handed to the trainer as an in-memory checkpoint.
 */
export async function trainFrom(
  dataset: Dataset,
  config: TrainConfig,
  start: StartTensors,
  options: Omit<TrainOptions, 'resume' | 'start'> = {},
): Promise<TrainResult> {
  return train(dataset, config, {
    ...options,
    start: {
      config,
      meta: {
        step: 0,
        epoch: 0,
        batchInEpoch: 0,
        sampleShape: [...dataset.sampleShape],
        numClasses: dataset.numClasses,
        classNames: [...dataset.classNames],
      },
      params: start.params,
      state: initOptimizerState(config.optimizer, start.params),
      buffers: start.buffers,
    },
  });
}

/**
 * The start of a margin-head run from a trained softmax model: the same backbone tensors, the head
 * bias dropped, and the class centres replaced by `centres` [C * D].
 */
export function marginStart(
  softmax: { params: ParamStore; buffers: ParamStore },
  centres: Float32Array,
  numClasses: number,
  dim: number,
): StartTensors {
  const params = new ParamStore();
  for (const [name, t] of softmax.params.entriesList()) {
    if (name === 'head.bias') continue;
    if (name === 'head.weight') params.set(name, [numClasses, dim], centres);
    else params.set(name, t.shape, t.data.slice());
  }
  return { params, buffers: softmax.buffers.clone() };
}
