/**
 * A small CNN for 28x28 digits: three 3x3 conv stages (the last two with stride 2 instead of pooling,
 * which is cheaper to differentiate), then a linear layer to the embedding. About 4 MFLOP per image
 * forward, so a CPU trains it on MNIST in seconds.
 */
import * as E from '../../engine/index.js';
import { Flatten, ReLU } from '../layers/basic.js';
import { BatchNorm } from '../layers/batchnorm.js';
import { Conv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import { Sequential } from '../layers/sequential.js';
import { Module, type Scope } from '../module.js';

export interface SmallCnnOptions {
  /** Embedding size D (e.g. 2 to plot the toy experiment's features). */
  readonly embeddingDim: number;
  /** Channels of the three conv stages (default [16, 32, 64]). */
  readonly channels?: readonly [number, number, number];
  /** BatchNorm after each conv and on the embedding (default true). */
  readonly batchNorm?: boolean;
}

/** Maps [N, C, H, W] (e.g. [N, 1, 28, 28]) to [N, D]. */
export class SmallCnn extends Module {
  constructor(sampleShape: readonly number[], opts: SmallCnnOptions) {
    super();
    if (sampleShape.length !== 3) {
      throw new Error(`small-cnn: samples must be [C, H, W] images, got [${sampleShape.join(',')}]`);
    }
    const [c0, h, w] = sampleShape;
    const ch = opts.channels ?? [16, 32, 64];
    const bn = opts.batchNorm ?? true;
    const stage = (cin: number, cout: number, stride: number): Module[] => [
      new Conv2d(cin, cout, { kernel: 3, stride, bias: !bn }),
      ...(bn ? [new BatchNorm(cout)] : []),
      new ReLU(),
    ];
    const out = (n: number): number => Math.floor((n - 1) / 2) + 1;
    const flat = ch[2] * out(out(h)) * out(out(w));
    this.addModule(
      'features',
      new Sequential(...stage(c0, ch[0], 1), ...stage(ch[0], ch[1], 2), ...stage(ch[1], ch[2], 2)),
    );
    this.addModule('flatten', new Flatten());
    this.addModule('fc', new Linear(flat, opts.embeddingDim, { bias: !bn }));
    if (bn) this.addModule('bn', new BatchNorm(opts.embeddingDim));
  }

  override foldPairs(): [string, string][] {
    return this.children().some(([n]) => n === 'bn') ? [['fc', 'bn']] : [];
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    const f = this.sub('fc', this.sub('flatten', this.sub('features', x, s), s), s);
    return this.children().some(([n]) => n === 'bn') ? this.sub('bn', f, s) : f;
  }
}
