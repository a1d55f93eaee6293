/** A model: backbone + classification head, with its tensors. Built from a TrainConfig, so a checkpoint can rebuild it. */
import { type Module, ParamStore, createBackbone } from '../nn/index.js';
import { ClassifierHead, HEAD_PREFIX } from './classifier.js';
import type { TrainConfig } from './config.js';

/** A backbone and head with their current values. */
export interface Model {
  readonly config: TrainConfig;
  /** Shape of one input sample (CHW or [D]). */
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Embedding size D. */
  readonly embeddingDim: number;
  readonly backbone: Module;
  readonly head: ClassifierHead;
  /** Backbone parameters by dotted name, and the head's under `head.`. */
  readonly params: ParamStore;
  /** BatchNorm running statistics. */
  readonly buffers: ParamStore;
}

/** The architecture of a config, without values. */
export function buildArchitecture(
  config: TrainConfig,
  sampleShape: readonly number[],
  numClasses: number,
): { backbone: Module; head: ClassifierHead } {
  const backbone = createBackbone(config.backbone, sampleShape);
  const head = new ClassifierHead(config.head, numClasses, config.backbone.embeddingDim);
  return { backbone, head };
}

/** Freshly initialised parameters (seeded by config.seed) and buffers for an architecture. */
export function initialTensors(
  backbone: Module,
  head: ClassifierHead,
  seed: number,
): { params: ParamStore; buffers: ParamStore } {
  const params = backbone.initParams(seed);
  for (const [n, t] of head.initParams(seed, HEAD_PREFIX).entriesList()) params.set(n, t.shape, t.data);
  return { params, buffers: backbone.initBuffers() };
}

/** Only the backbone's parameters (what an exported embedding model needs). */
export function backboneParams(model: Model): ParamStore {
  const out = new ParamStore();
  for (const [n, t] of model.params.entriesList())
    if (!n.startsWith(`${HEAD_PREFIX}.`)) out.set(n, t.shape, t.data);
  return out;
}
