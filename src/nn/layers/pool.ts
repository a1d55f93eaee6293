/** Pooling layers over H and W (no parameters). */
import * as E from '../../engine/index.js';
import { Module } from '../module.js';

/** Max pooling; stride defaults to the kernel size. */
export class MaxPool2d extends Module {
  constructor(readonly opts: E.Pool2dOptions) {
    super();
  }
  call(x: E.Tensor): E.Tensor {
    return E.maxPool2d(x, this.opts);
  }
}

/** Average pooling; stride defaults to the kernel size. */
export class AvgPool2d extends Module {
  constructor(readonly opts: E.Pool2dOptions) {
    super();
  }
  call(x: E.Tensor): E.Tensor {
    return E.avgPool2d(x, this.opts);
  }
}

/** [N, C, H, W] -> [N, C] by the mean over H and W. */
export class GlobalAvgPool extends Module {
  call(x: E.Tensor): E.Tensor {
    return E.flatten(E.globalAvgPool2d(x));
  }
}
