/**
 * The training step as one graph: backbone forward, head loss, gradients, optimizer update. One
 * `program.run` per step takes the batch, the learning rate and the current tensors, and returns the
 * loss, the number of correct predictions, and every updated parameter, optimizer state and
 * BatchNorm running statistic.
 *
 * With a Partial FC sample rate the head sees only the sampled class centres each step (every class
 * of the batch, then random others), and only those rows of `head.weight` and of its optimizer
 * state are updated, as in InsightFace's partial_fc: a class left out of a step keeps its centre
 * and momentum bit for bit (no weight decay, no momentum drift).
 */
import * as E from '../engine/index.js';
import {
  type HeadOutputs,
  partialFcHead,
  sampleClasses,
  sampledCount,
  scatterRows,
  seededRandom,
} from '../heads/index.js';
import { type MaskSpec, type Module, ParamStore, streamSeed } from '../nn/index.js';
import { type ClassifierHead, HEAD_PREFIX, correctCount, scores } from './classifier.js';
import { type OptimizerConfig, applyUpdate, stateSlots } from './optimizer.js';

/** What to compile. */
export interface StepSpec {
  readonly backbone: Module;
  readonly head: ClassifierHead;
  readonly optimizer: OptimizerConfig;
  /** Static batch size B. */
  readonly batch: number;
  /** Shape of one sample, e.g. [1, 28, 28]. */
  readonly sampleShape: readonly number[];
  /** Partial FC: fraction of classes the head sees per step, in (0, 1]; omitted = every class. */
  readonly sampleRate?: number;
}

/** Everything a step reads and writes besides the batch. */
export interface TrainState {
  /** Backbone and head parameters by dotted name. */
  readonly params: ParamStore;
  /** Optimizer state, `${slot}.${param}`. */
  readonly state: ParamStore;
  /** BatchNorm running statistics. */
  readonly buffers: ParamStore;
}

/** One step's batch and scalars. */
export interface StepFeeds {
  /** [B, ...sampleShape] row-major. */
  readonly x: Float32Array;
  /** int64 [B], -1 = ignored row. */
  readonly labels: BigInt64Array;
  readonly lr: number;
  /** 1-based step number (AdamW bias correction). */
  readonly t: number;
  /** 32-bit seed of this step's dropout masks (drawn in JS, so a resumed run draws the same ones). */
  readonly seed: number;
}

/** What a step reports. */
export interface StepResult {
  readonly loss: number;
  /** Rows whose best-scoring class is their label (with Partial FC: among the sampled classes). */
  readonly correct: number;
  /** Partial FC: the classes sampled this step (the batch's first, ascending). */
  readonly sampled?: BigInt64Array;
}

export interface CompiledStep {
  /** The lowered graph's node count (session creation time grows with it). */
  readonly nodeCount: number;
  /** Classes the head sees per step: C, or the Partial FC sample size. */
  readonly classesPerStep: number;
  /** The lowered ONNX graph (for profiling it outside the trainer). */
  readonly graph: E.LoweredGraph;
  /** Run one step and write the updated tensors into `state`; nothing is written when the loss is not finite. */
  run(state: TrainState, feeds: StepFeeds): Promise<StepResult>;
}

/** Seed stream of the Partial FC class sampler, beside the dropout masks of the same step. */
const SAMPLER_STREAM = 'partial-fc';
/** Graph input holding the sampled classes. */
const CLASS_INDEX = 'classIndex';

/** A dropout keep-mask drawn from the step's seed and the mask's name. */
function dropoutMask(m: MaskSpec, seed: number, name: string): Float32Array {
  const rand = seededRandom(streamSeed(seed, name));
  const keep = 1 / (1 - m.rate);
  const a = new Float32Array(m.shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < a.length; i++) a[i] = rand() < m.rate ? 0 : keep;
  return a;
}

const out = {
  param: (n: string): string => `new:${n}`,
  buffer: (n: string): string => `buf:${n}`,
};

/** The empty optimizer state (zeros) for `params`. */
export function initOptimizerState(cfg: OptimizerConfig, params: ParamStore): ParamStore {
  const st = new ParamStore();
  for (const slot of stateSlots(cfg)) {
    for (const [n, p] of params.entriesList())
      st.set(`${slot}.${n}`, p.shape, new Float32Array(p.data.length));
  }
  return st;
}

/**
 * Build and compile the step graph.
 * @param opts runtime options; feeds are not scanned for NaN (the loss is checked instead, which
 *   is cheaper than scanning every parameter each step)
 */
export async function compileStep(spec: StepSpec, opts: E.RuntimeOptions = {}): Promise<CompiledStep> {
  // Without ONNX Runtime's arena the peak is what the step holds, so PReLU's default backward, which
  // makes two full-size terms during the forward pass, gives way to its lean form (lowering.ts).
  // Lowerings are read while the graph is built and lowered, so the switch spans buildStep.
  const lean = opts.enableCpuMemArena === false && E.lowerings().prelu === 'min';
  const restore = lean ? E.setLowerings({ prelu: 'lean' }) : undefined;
  try {
    return await buildStep(spec, opts);
  } finally {
    if (restore) E.setLowerings(restore);
  }
}

async function buildStep(spec: StepSpec, opts: E.RuntimeOptions): Promise<CompiledStep> {
  const { backbone, head, optimizer, batch, sampleShape, sampleRate } = spec;
  const partial = sampleRate !== undefined;
  if (partial && head.config.kind !== 'margin') {
    throw new Error('train: Partial FC (sampleRate) needs a margin head, not softmax');
  }
  const perStep = partial ? sampledCount(head.numClasses, sampleRate) : head.numClasses;
  const x = E.input('x', [batch, ...sampleShape]);
  const labels = E.input('labels', [batch], 'int64');
  const lr = E.input('lr', []);
  const t = E.input('t', []);
  const classIndex = partial ? E.input(CLASS_INDEX, [perStep], 'int64') : undefined;
  const fw = backbone.forward(x, 'train');
  let weightSample: E.Tensor | undefined;
  const h = head.build('train', { prefix: HEAD_PREFIX }, (s): HeadOutputs => {
    if (!classIndex) return head.loss(fw.y, labels, s);
    const weight = s.param('weight', [head.rows, head.dim]);
    const out = partialFcHead({ x: fw.y, weight, index: classIndex, labels }, head.config);
    weightSample = out.weightSample;
    return out;
  });
  const loss = h.y.loss;

  const decay = new Map<string, boolean>();
  for (const [n, d] of backbone.namedParams()) decay.set(n, d.decay);
  for (const [n, d] of head.namedParams(HEAD_PREFIX)) decay.set(n, d.decay);
  const params = [...fw.params.entries(), ...h.params.entries()];
  const centres = `${HEAD_PREFIX}.weight`;
  // Partial FC differentiates with respect to the sampled rows only: a [S * k, D] gradient.
  const grads = E.grad(
    loss,
    params.map(([n, p]) => (weightSample && n === centres ? weightSample : p)),
  );
  const slots = stateSlots(optimizer);

  const outputs: Record<string, E.Tensor> = {
    loss,
    correct: correctCount(scores(head.config, h.y), labels),
  };
  params.forEach(([name, p], i) => {
    const st = slots.map((slot) => E.input(`${slot}.${name}`, p.shape));
    const scalars = { lr, t };
    const wd = decay.get(name) ?? true;
    if (weightSample && classIndex && name === centres) {
      // Update the sampled classes' rows (centres and state, k sub-centres per class as one row of
      // k * D) and scatter them back; every other row passes through unchanged.
      const rowShape = [head.numClasses, p.size / head.numClasses];
      const byClass = (v: E.Tensor): E.Tensor => E.reshape(v, rowShape);
      const sampled = (v: E.Tensor): E.Tensor => E.reshape(v, [perStep, rowShape[1]]);
      const upd = applyUpdate(
        optimizer,
        sampled(weightSample),
        sampled(grads[i]),
        st.map((v) => E.gather(byClass(v), classIndex, 0)),
        wd,
        scalars,
      );
      const back = (full: E.Tensor, rows: E.Tensor): E.Tensor =>
        E.reshape(scatterRows(byClass(full), classIndex, rows), p.shape);
      outputs[out.param(name)] = back(p, upd.param);
      slots.forEach((slot, k) => (outputs[`${slot}.${name}:new`] = back(st[k], upd.state[k])));
      return;
    }
    const upd = applyUpdate(optimizer, p, grads[i], st, wd, scalars);
    outputs[out.param(name)] = upd.param;
    slots.forEach((slot, k) => (outputs[`${slot}.${name}:new`] = upd.state[k]));
  });
  for (const [name, v] of fw.updates) outputs[out.buffer(name)] = v;

  // 'extended', not ONNX Runtime's 'all': the NCHWc layout transform that 'all' adds reorders every
  // converted conv's output back to NCHW for the elementwise ops around it, and whole steps ran
  // slower with it (batch 64, 2 threads, 6 interleaved rounds: MobileFaceNet 0.90x and IResNet-18
  // 0.92x the time without it; docs/TRAINING-SPEED.md). Inference graphs keep 'all'.
  const program = await E.Program.compile(
    { outputs },
    { optimization: 'extended', ...opts, checkFinite: false },
  );
  const inputNames = new Set(program.inputs.map((v) => v.name));

  return {
    nodeCount: program.graph.nodeCount,
    classesPerStep: perStep,
    graph: program.graph,
    async run(state, f) {
      const feeds: Record<string, E.TypedArray> = { x: f.x, labels: f.labels };
      let sample: ReturnType<typeof sampleClasses> | undefined;
      if (partial) {
        // Drawn from the step's seed, so a resumed run samples the same classes.
        const random = seededRandom(streamSeed(f.seed, SAMPLER_STREAM));
        sample = sampleClasses(f.labels, head.numClasses, sampleRate, random);
        feeds[CLASS_INDEX] = sample.index;
        feeds.labels = sample.remapped;
      }
      const scalar = (name: string, v: number): void => {
        if (inputNames.has(name)) feeds[name] = new Float32Array([v]);
      };
      scalar('lr', f.lr);
      scalar('t', f.t);
      for (const [n, m] of fw.masks) feeds[n] = dropoutMask(m, f.seed, n);
      for (const [n] of params) feeds[n] = state.params.get(n).data;
      for (const [n] of fw.buffers) feeds[n] = state.buffers.get(n).data;
      for (const slot of slots)
        for (const [n] of params) feeds[`${slot}.${n}`] = state.state.get(`${slot}.${n}`).data;
      const r = await program.run(feeds);
      const loss = Number(r.loss[0]);
      const correct = Number(r.correct[0]);
      if (!Number.isFinite(loss)) return { loss, correct, sampled: sample?.index };
      for (const [n] of params) state.params.update(n, r[out.param(n)] as Float32Array);
      for (const slot of slots)
        for (const [n] of params) state.state.update(`${slot}.${n}`, r[`${slot}.${n}:new`] as Float32Array);
      for (const [n] of fw.updates) state.buffers.update(n, r[out.buffer(n)] as Float32Array);
      return { loss, correct, sampled: sample?.index };
    },
  };
}
