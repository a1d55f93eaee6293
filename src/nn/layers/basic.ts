/** Parameter-free layers: ReLU, Flatten, Identity. */
import * as E from '../../engine/index.js';
import { Module, type Scope } from '../module.js';

/** max(x, 0). */
export class ReLU extends Module {
  call(x: E.Tensor): E.Tensor {
    return E.relu(x);
  }
}

/** [N, ...] -> [N, prod(...)]. */
export class Flatten extends Module {
  call(x: E.Tensor): E.Tensor {
    return E.flatten(x);
  }
}

/** Passes x through. */
export class Identity extends Module {
  call(x: E.Tensor, _s?: Scope): E.Tensor {
    return x;
  }
}
