/**
 * BatchNorm over the channel axis of [N, C] or [N, C, H, W]: batch statistics in train mode (with
 * running statistics updated by momentum, as in PyTorch), running statistics in eval mode.
 */
import * as E from '../../engine/index.js';
import { Module, type Scope } from '../module.js';

export interface BatchNormOptions {
  /** Weight of the new batch statistic in the running average (PyTorch convention, default 0.1). */
  readonly momentum?: number;
  /** Added to the variance (default 1e-5). */
  readonly eps?: number;
  /** Learn a per-channel scale and shift (default true). */
  readonly affine?: boolean;
}

export class BatchNorm extends Module {
  readonly momentum: number;
  readonly eps: number;
  readonly affine: boolean;

  constructor(
    readonly channels: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    this.momentum = opts.momentum ?? 0.1;
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    if (this.affine) {
      this.addParam('weight', [channels], { kind: 'constant', value: 1 }, false);
      this.addParam('bias', [channels], { kind: 'constant', value: 0 }, false);
    }
    this.addBuffer('running_mean', [channels], 0);
    this.addBuffer('running_var', [channels], 1);
  }

  override get foldRole(): 'batchnorm' {
    return 'batchnorm';
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    const c = this.channels;
    if (x.rank < 2 || x.shape[1] !== c) throw new E.ShapeError('BatchNorm', `expects [N, ${c}, ...]`, [x]);
    if (s.folded) return x;
    const gamma = this.affine ? s.param('weight', [c]) : E.full([c], 1);
    const beta = this.affine ? s.param('bias', [c]) : E.full([c], 0);
    const runMean = s.buffer('running_mean', [c]);
    const runVar = s.buffer('running_var', [c]);
    if (s.mode === 'eval') return E.batchNormInfer(x, gamma, beta, runMean, runVar, this.eps);
    const bn = E.batchNormTrain(x, gamma, beta, this.eps);
    const n = x.size / c;
    const m = this.momentum;
    // PyTorch keeps the unbiased variance in the running estimate.
    const unbiased = E.mul(bn.var, n / Math.max(n - 1, 1));
    s.setBuffer('running_mean', E.add(E.mul(runMean, 1 - m), E.mul(bn.mean, m)));
    s.setBuffer('running_var', E.add(E.mul(runVar, 1 - m), E.mul(unbiased, m)));
    return bn.y;
  }
}
