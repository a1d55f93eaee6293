/** PReLU with one learned slope per channel (axis 1), initialised to 0.25 as in PyTorch. */
import * as E from '../../engine/index.js';
import { Module, type Scope } from '../module.js';

export class PReLU extends Module {
  constructor(
    readonly channels: number,
    init = 0.25,
  ) {
    super();
    // Like biases and BatchNorm's affine parameters, slopes are left out of weight decay.
    this.addParam('weight', [channels], { kind: 'constant', value: init }, false);
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    return E.prelu(x, s.param('weight', [this.channels]));
  }
}
