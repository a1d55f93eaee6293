/** 2-D convolution layer (NCHW), with groups for depthwise convolutions. */
import * as E from '../../engine/index.js';
import type { Init } from '../init.js';
import { Module, type Scope } from '../module.js';

export interface Conv2dLayerOptions {
  /** Square kernel side (default 3). */
  readonly kernel?: number;
  readonly stride?: number;
  /** Symmetric zero padding (default (kernel - 1) / 2: "same" at stride 1). */
  readonly padding?: number;
  /** Channel groups; groups = inChannels = outChannels is depthwise (default 1). */
  readonly groups?: number;
  /** Add a bias (default false: convolutions here are followed by BatchNorm). */
  readonly bias?: boolean;
  /** Weight init (default Kaiming normal over fan-in, gain sqrt(2)). */
  readonly init?: Init;
}

export class Conv2d extends Module {
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  readonly bias: boolean;
  readonly weightShape: readonly number[];

  /** Maps [N, inChannels, H, W] to [N, outChannels, H', W']. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    this.kernel = opts.kernel ?? 3;
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? Math.floor((this.kernel - 1) / 2);
    this.groups = opts.groups ?? 1;
    this.bias = opts.bias ?? false;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(
        `Conv2d: ${inChannels} -> ${outChannels} channels do not split into ${this.groups} groups`,
      );
    }
    this.weightShape = [outChannels, inChannels / this.groups, this.kernel, this.kernel];
    const fanIn = (inChannels / this.groups) * this.kernel * this.kernel;
    this.addParam('weight', this.weightShape, opts.init ?? { kind: 'kaiming-normal', fanIn });
    if (this.bias) this.addParam('bias', [outChannels], { kind: 'constant', value: 0 }, false);
  }

  override get foldRole(): 'affine' {
    return 'affine';
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    const y = E.conv2d(x, s.param('weight', this.weightShape), {
      strides: this.stride,
      pads: this.padding,
      group: this.groups,
    });
    const b = this.bias ? s.param('bias', [this.outChannels]) : s.extra('bias');
    return b ? E.add(y, E.reshape(b, [1, this.outChannels, 1, 1])) : y;
  }
}
