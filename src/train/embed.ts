/**
 * The eval (forward-only) graph: embeddings and class scores with BatchNorm in eval mode, and
 * helpers to embed or classify a whole dataset in fixed-size batches.
 */
import * as E from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { HEAD_PREFIX } from './classifier.js';
import type { Model } from './model.js';

/** A compiled forward graph for one batch size. */
export interface EvalProgram {
  readonly batch: number;
  /**
   * Embed one batch.
   * @param x [batch, ...sampleShape]
   * @returns embeddings [batch * D] (not normalised) and scores [batch * C] (cosine to each class, or softmax logits)
   */
  run(model: Model, x: Float32Array): Promise<{ embeddings: Float32Array; scores: Float32Array }>;
}

/** Compile the eval graph of a model's architecture (values are fed per run, so training can continue). */
export async function compileEval(
  model: Model,
  batch: number,
  opts: E.RuntimeOptions = {},
): Promise<EvalProgram> {
  const x = E.input('x', [batch, ...model.sampleShape]);
  const fw = model.backbone.forward(x, 'eval');
  const h = model.head.build('eval', { prefix: HEAD_PREFIX }, (s) => model.head.call(fw.y, s));
  const program = await E.Program.compile(
    { outputs: { embeddings: fw.y, scores: h.y } },
    { ...opts, checkFinite: false },
  );
  const names = program.inputs.map((v) => v.name).filter((n) => n !== 'x');
  return {
    batch,
    async run(m, xs) {
      const feeds: Record<string, E.TypedArray> = { x: xs };
      for (const n of names) feeds[n] = (m.params.has(n) ? m.params : m.buffers).get(n).data;
      const r = await program.run(feeds);
      return { embeddings: r.embeddings as Float32Array, scores: r.scores as Float32Array };
    },
  };
}

export interface EmbedOptions {
  /** Batch size of the eval graph (default 256). */
  readonly batchSize?: number;
  /** L2-normalise each embedding (default false). */
  readonly normalize?: boolean;
  readonly threads?: number;
  /** A compiled eval program to reuse (its batch size wins). */
  readonly program?: EvalProgram;
}

/** Embeddings of a whole dataset, in dataset order. */
export interface Embedded {
  /** [N * D] row-major. */
  readonly embeddings: Float32Array;
  /** [N * C] class scores (cosine to each class's centre; softmax: logits). */
  readonly scores: Float32Array;
  readonly labels: Int32Array;
  readonly dim: number;
  readonly count: number;
  /** Fraction of samples whose best-scoring class is their label. */
  readonly accuracy: number;
}

/**
 * Run the eval graph over every sample of a dataset (no shuffling, no augmentation).
 * @returns embeddings [N, D] in the dataset's index order, with class scores and accuracy
 */
export async function embedDataset(
  model: Model,
  dataset: Dataset,
  opts: EmbedOptions = {},
): Promise<Embedded> {
  const prog = opts.program ?? (await compileEval(model, opts.batchSize ?? 256, { threads: opts.threads }));
  const b = prog.batch;
  const d = model.embeddingDim;
  const c = model.numClasses;
  const per = model.sampleShape.reduce((a, v) => a * v, 1);
  const n = dataset.size;
  const embeddings = new Float32Array(n * d);
  const scores = new Float32Array(n * c);
  const labels = new Int32Array(n);
  let row = 0;
  const padded = new Float32Array(b * per);
  for await (const batch of dataset.batches({
    batchSize: b,
    seed: 0,
    epoch: 0,
    shuffle: false,
    augment: false,
  })) {
    const count = Math.min(batch.count, n - row);
    // A dataset may hand over a short last batch instead of a padded one: the graph's shape is static.
    let x = batch.x;
    if (x.length !== b * per) {
      padded.fill(0);
      padded.set(x.subarray(0, Math.min(x.length, b * per)));
      x = padded;
    }
    const r = await prog.run(model, x);
    embeddings.set(r.embeddings.subarray(0, count * d), row * d);
    scores.set(r.scores.subarray(0, count * c), row * c);
    for (let i = 0; i < count; i++) labels[row + i] = Number(batch.labels[i]);
    row += count;
  }
  if (row !== n) throw new Error(`embedDataset: the dataset yielded ${row} samples, its size is ${n}`);
  if (opts.normalize) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += embeddings[i * d + k] ** 2;
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let k = 0; k < d; k++) embeddings[i * d + k] *= inv;
    }
  }
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (scores[i * c + k] > scores[i * c + best]) best = k;
    if (best === labels[i]) correct++;
  }
  return { embeddings, scores, labels, dim: d, count: n, accuracy: n ? correct / n : 0 };
}
