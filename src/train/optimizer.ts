/**
 * Optimizers written as graph ops, so the update runs inside the step graph: parameters and state go
 * in as inputs and come out updated, with no extra trip through JS.
 */
import * as E from '../engine/index.js';

/** SGD with momentum and L2 weight decay (PyTorch's torch.optim.SGD, dampening 0). */
export interface SgdConfig {
  readonly kind: 'sgd';
  /** Default 0.9. */
  readonly momentum?: number;
  /** Added to the gradient as wd * p (default 5e-4, InsightFace's value). */
  readonly weightDecay?: number;
  readonly nesterov?: boolean;
}

/** AdamW (Loshchilov & Hutter): decoupled weight decay, bias-corrected moments (torch.optim.AdamW). */
export interface AdamWConfig {
  readonly kind: 'adamw';
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly eps?: number;
  /** Default 0.01; the step is p -= lr * wd * p, independent of the gradient. */
  readonly weightDecay?: number;
}

export type OptimizerConfig = SgdConfig | AdamWConfig;

/** Names of the state slots per parameter: state tensor `${slot}.${param}` has the parameter's shape. */
export function stateSlots(cfg: OptimizerConfig): readonly string[] {
  return cfg.kind === 'sgd' ? ['momentum'] : ['exp_avg', 'exp_avg_sq'];
}

/** Per-step scalar inputs of the update. */
export interface UpdateInputs {
  /** Learning rate, float32 []. */
  readonly lr: E.Tensor;
  /** 1-based step count t as float32 [] (AdamW bias correction). */
  readonly t: E.Tensor;
}

/**
 * The updated parameter and state for one parameter tensor.
 * @param p the parameter
 * @param g its gradient (same shape)
 * @param state one tensor per slot of stateSlots(cfg)
 * @param decay whether weight decay applies to this parameter
 */
export function applyUpdate(
  cfg: OptimizerConfig,
  p: E.Tensor,
  g: E.Tensor,
  state: readonly E.Tensor[],
  decay: boolean,
  { lr, t }: UpdateInputs,
): { param: E.Tensor; state: E.Tensor[] } {
  if (cfg.kind === 'sgd') {
    const mu = cfg.momentum ?? 0.9;
    const wd = decay ? (cfg.weightDecay ?? 5e-4) : 0;
    const d = wd ? E.add(g, E.mul(p, wd)) : g;
    const buf = mu ? E.add(E.mul(state[0], mu), d) : d;
    const dir = cfg.nesterov ? E.add(d, E.mul(buf, mu)) : buf;
    return { param: E.sub(p, E.mul(dir, lr)), state: [buf] };
  }
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const eps = cfg.eps ?? 1e-8;
  const wd = decay ? (cfg.weightDecay ?? 0.01) : 0;
  const m = E.add(E.mul(state[0], b1), E.mul(g, 1 - b1));
  const v = E.add(E.mul(state[1], b2), E.mul(E.mul(g, g), 1 - b2));
  // Bias corrections are scalars: computing them in the graph from t keeps the step count the only
  // per-step input besides the learning rate.
  const c1 = E.sub(1, E.pow(E.scalar(b1), t));
  const c2 = E.sub(1, E.pow(E.scalar(b2), t));
  const stepSize = E.div(lr, c1);
  const denom = E.add(E.div(E.sqrt(v), E.sqrt(c2)), eps);
  const decayed = wd ? E.mul(p, E.sub(1, E.mul(lr, wd))) : p;
  return { param: E.sub(decayed, E.mul(E.div(m, denom), stepSize)), state: [m, v] };
}
