/**
 * LeNet++ (Wen et al. 2016, "A Discriminative Feature Learning Approach for Deep Face Recognition",
 * the network of its 2-D MNIST figures): three stages of convolutions + PReLU followed by 2x2 max
 * pooling, then a linear layer to the embedding. The paper's net has two 5x5 convolutions per stage
 * and 32/64/128 channels; channels, convolutions per stage and kernel are options so a CPU can run
 * a slimmer variant of the same shape.
 */
import * as E from '../../engine/index.js';
import { Flatten } from '../layers/basic.js';
import { BatchNorm } from '../layers/batchnorm.js';
import { Conv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import { MaxPool2d } from '../layers/pool.js';
import { PReLU } from '../layers/prelu.js';
import { Sequential } from '../layers/sequential.js';
import { Module, type Scope } from '../module.js';

export interface LeNetPlusOptions {
  /** Embedding size D (2 for the toy figure). */
  readonly embeddingDim: number;
  /** Channels of the three stages (default [32, 64, 128], the paper's). */
  readonly channels?: readonly [number, number, number];
  /** Convolutions per stage (default 2, the paper's). */
  readonly convsPerStage?: number;
  /** Square kernel side of every convolution, "same" padding (default 5, the paper's). */
  readonly kernel?: number;
  /**
   * BatchNorm after every convolution and on the embedding (default false, as in the paper). On the
   * embedding it centres the 2-D features on the origin, which the angular picture needs.
   */
  readonly batchNorm?: boolean;
}

/** Maps [N, C, H, W] (e.g. [N, 1, 28, 28]) to [N, D]. */
export class LeNetPlus extends Module {
  private readonly bn: boolean;

  constructor(sampleShape: readonly number[], opts: LeNetPlusOptions) {
    super();
    if (sampleShape.length !== 3) {
      throw new Error(`lenet++: samples must be [C, H, W] images, got [${sampleShape.join(',')}]`);
    }
    const [c0, h, w] = sampleShape;
    const ch = opts.channels ?? [32, 64, 128];
    const convs = opts.convsPerStage ?? 2;
    const kernel = opts.kernel ?? 5;
    if (!Number.isInteger(convs) || convs < 1) {
      throw new Error(`lenet++: convsPerStage must be a positive integer, got ${convs}`);
    }
    if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
      throw new Error(`lenet++: kernel must be an odd positive integer, got ${kernel}`);
    }
    // Three 2x2 poolings (floor) must leave at least one pixel: 28 -> 14 -> 7 -> 3.
    if (h < 8 || w < 8) throw new Error(`lenet++: images must be at least 8x8, got ${h}x${w}`);
    this.bn = opts.batchNorm ?? false;
    const layers: Module[] = [];
    let cin = c0;
    for (const cout of ch) {
      for (let i = 0; i < convs; i++) {
        layers.push(new Conv2d(cin, cout, { kernel, bias: !this.bn }));
        if (this.bn) layers.push(new BatchNorm(cout));
        layers.push(new PReLU(cout));
        cin = cout;
      }
      layers.push(new MaxPool2d({ kernel: 2 }));
    }
    const pooled = (n: number): number => Math.floor(Math.floor(Math.floor(n / 2) / 2) / 2);
    this.addModule('features', new Sequential(...layers));
    this.addModule('flatten', new Flatten());
    this.addModule('fc', new Linear(ch[2] * pooled(h) * pooled(w), opts.embeddingDim, { bias: !this.bn }));
    if (this.bn) this.addModule('bn', new BatchNorm(opts.embeddingDim));
  }

  override foldPairs(): [string, string][] {
    return this.bn ? [['fc', 'bn']] : [];
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    const f = this.sub('fc', this.sub('flatten', this.sub('features', x, s), s), s);
    return this.bn ? this.sub('bn', f, s) : f;
  }
}
