/** Dropout: in train mode, multiply by a random keep-mask fed as a graph input; identity in eval mode. */
import * as E from '../../engine/index.js';
import { Module, type Scope } from '../module.js';

export class Dropout extends Module {
  /** @param rate drop probability in [0, 1) */
  constructor(readonly rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new Error(`Dropout: rate ${rate} must lie in [0, 1)`);
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    if (s.mode === 'eval' || this.rate === 0) return x;
    // The mask is an input, not ONNX's RandomUniformLike: ONNX Runtime's generator state lives in the
    // session, which a resumed run does not have, so masks drawn in the graph could not be replayed.
    return E.mul(x, s.mask('mask', x.shape, this.rate));
  }
}
