/** Fully connected layer y = x W^T + b, W stored [out, in] as in PyTorch. */
import * as E from '../../engine/index.js';
import type { Init } from '../init.js';
import { Module, type Scope } from '../module.js';

export interface LinearOptions {
  /** Add a bias (default true). */
  readonly bias?: boolean;
  /** Weight init (default PyTorch's: U(+-1/sqrt(in))). */
  readonly init?: Init;
}

export class Linear extends Module {
  readonly bias: boolean;
  /**
   * @param inFeatures input width D_in
   * @param outFeatures output width D_out; maps [N, D_in] to [N, D_out]
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    this.bias = opts.bias ?? true;
    this.addParam(
      'weight',
      [outFeatures, inFeatures],
      opts.init ?? { kind: 'kaiming-uniform', fanIn: inFeatures, gain: 1 / Math.sqrt(3) },
    );
    if (this.bias) this.addParam('bias', [outFeatures], { kind: 'constant', value: 0 }, false);
  }

  override get foldRole(): 'affine' {
    return 'affine';
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new E.ShapeError('Linear', `expects [N, ${this.inFeatures}]`, [x]);
    }
    // Gemm reads W transposed in place: no Transpose node forward or backward.
    const y = E.gemm(x, s.param('weight', [this.outFeatures, this.inFeatures]), false, true);
    const b = this.bias ? s.param('bias', [this.outFeatures]) : s.extra('bias');
    return b ? E.add(y, b) : y;
  }
}
