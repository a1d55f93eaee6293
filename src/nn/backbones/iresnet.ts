/**
 * IResNet (Improved ResNet, Duta et al.) as InsightFace's arcface_torch builds it
 * (backbones/iresnet.py): a 3x3 stem, four stages of pre-activation basic blocks
 * (BN, conv, BN, PReLU, strided conv, BN, plus the shortcut), then BN, flatten of the 7x7 map,
 * dropout, a linear layer and BatchNorm1d. Names follow the PyTorch module tree
 * (`layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`, `features.running_mean`, ...).
 * Input [N, 3, 112, 112]; output [N, D], D = 512.
 */
import * as E from '../../engine/index.js';
import { BatchNorm } from '../layers/batchnorm.js';
import { Conv2d } from '../layers/conv.js';
import { Dropout } from '../layers/dropout.js';
import { Linear } from '../layers/linear.js';
import { PReLU } from '../layers/prelu.js';
import { Sequential } from '../layers/sequential.js';
import { Module, type Scope } from '../module.js';

export interface IResNetOptions {
  /** Embedding size (default 512). */
  readonly embeddingDim: number;
  /** Blocks per stage: [2, 2, 2, 2] is IResNet-18, [3, 4, 14, 3] IResNet-50. */
  readonly layers: readonly [number, number, number, number];
  /** Dropout before the fc layer (default 0, as in most arcface_torch configs). */
  readonly dropout?: number;
}

/** The pre-activation basic block. */
class IBasicBlock extends Module {
  private readonly hasDownsample: boolean;
  constructor(inplanes: number, planes: number, stride: number) {
    super();
    this.addModule('bn1', new BatchNorm(inplanes));
    this.addModule('conv1', new Conv2d(inplanes, planes, { kernel: 3, padding: 1 }));
    this.addModule('bn2', new BatchNorm(planes));
    this.addModule('prelu', new PReLU(planes));
    this.addModule('conv2', new Conv2d(planes, planes, { kernel: 3, stride, padding: 1 }));
    this.addModule('bn3', new BatchNorm(planes));
    this.hasDownsample = stride !== 1 || inplanes !== planes;
    if (this.hasDownsample) {
      this.addModule(
        'downsample',
        new Sequential(
          new Conv2d(inplanes, planes, { kernel: 1, stride, padding: 0 }),
          new BatchNorm(planes),
        ),
      );
    }
  }

  override foldPairs(): [string, string][] {
    return [
      ['conv1', 'bn2'],
      ['conv2', 'bn3'],
    ];
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    let y = this.sub('bn1', x, s);
    y = this.sub('conv1', y, s);
    y = this.sub('prelu', this.sub('bn2', y, s), s);
    y = this.sub('bn3', this.sub('conv2', y, s), s);
    return E.add(y, this.hasDownsample ? this.sub('downsample', x, s) : x);
  }
}

export class IResNet extends Module {
  private readonly flat: number;
  constructor(sampleShape: readonly number[], opts: IResNetOptions) {
    super();
    const [c, h, w] = sampleShape;
    if (sampleShape.length !== 3 || h !== 112 || w !== 112) {
      throw new Error(`iresnet: samples must be [C, 112, 112], got [${sampleShape.join(',')}]`);
    }
    this.addModule('conv1', new Conv2d(c, 64, { kernel: 3, padding: 1 }));
    this.addModule('bn1', new BatchNorm(64));
    this.addModule('prelu', new PReLU(64));
    let inplanes = 64;
    [64, 128, 256, 512].forEach((planes, i) => {
      const blocks: Module[] = [];
      for (let b = 0; b < opts.layers[i]; b++) {
        blocks.push(new IBasicBlock(b === 0 ? inplanes : planes, planes, b === 0 ? 2 : 1));
      }
      inplanes = planes;
      this.addModule(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.addModule('bn2', new BatchNorm(512));
    this.addModule('dropout', new Dropout(opts.dropout ?? 0));
    this.flat = 512 * 7 * 7;
    this.addModule('fc', new Linear(this.flat, opts.embeddingDim));
    this.addModule('features', new BatchNorm(opts.embeddingDim));
  }

  override foldPairs(): [string, string][] {
    return [
      ['conv1', 'bn1'],
      ['fc', 'features'],
    ];
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    let y = this.sub('prelu', this.sub('bn1', this.sub('conv1', x, s), s), s);
    for (let i = 1; i <= 4; i++) y = this.sub(`layer${i}`, y, s);
    y = E.flatten(this.sub('bn2', y, s));
    return this.sub('features', this.sub('fc', this.sub('dropout', y, s), s), s);
  }
}
