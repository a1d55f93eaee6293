/**
 * Training that starts from given tensors (a softmax warm-up's backbone, class centres for the
 * margin head) instead of a fresh initialisation. The trainer starts from fresh tensors or from a
 * checkpoint, so the start is written as a step-0 checkpoint and training "resumes" from it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { ParamStore } from '../nn/index.js';
import {
  type TrainConfig,
  type TrainOptions,
  type TrainResult,
  initOptimizerState,
  saveCheckpoint,
  train,
} from '../train/index.js';

/** The tensors to start from: every parameter and buffer the config's model has. */
export interface StartTensors {
  readonly params: ParamStore;
  readonly buffers: ParamStore;
}

/**
 * Train `config` on `dataset` starting from `start` (fresh optimizer state, step 0, the config's
 * full schedule).
 */
export async function trainFrom(
  dataset: Dataset,
  config: TrainConfig,
  start: StartTensors,
  options: Omit<TrainOptions, 'resume'> = {},
): Promise<TrainResult> {
  const dir = await mkdtemp(join(tmpdir(), 'arcface-warm-'));
  const path = join(dir, 'start.ckpt');
  try {
    await saveCheckpoint(path, {
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
    });
    return await train(dataset, config, { ...options, resume: path });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
