/**
 * MobileFaceNet as InsightFace's arcface_torch builds it (backbones/mobilefacenet.py, "MBF"): width
 * scale 2, blocks (1, 4, 6, 2), PReLU activations, and the GDC head (a 7x7 depthwise conv in place
 * of global pooling, then a linear layer and BatchNorm1d). Module and parameter names follow the
 * PyTorch module tree (`layers.0.layers.0.weight`, `features.layers.2.weight`, ...), so InsightFace
 * state dicts map name for name (PyTorch's num_batches_tracked aside).
 * Input [N, 3, 112, 112] RGB, (x - 127.5) / 127.5; output [N, D], D = 512 (or 128).
 */
import * as E from '../../engine/index.js';
import { Flatten } from '../layers/basic.js';
import { BatchNorm } from '../layers/batchnorm.js';
import { Conv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import { PReLU } from '../layers/prelu.js';
import { Sequential } from '../layers/sequential.js';
import { Module, type Scope } from '../module.js';

export interface MobileFaceNetOptions {
  /** Embedding size (InsightFace: 512; the original paper: 128). */
  readonly embeddingDim: number;
  /** Channel multiplier of the 64/128-channel stages (default 2, InsightFace's MBF; 4 = mbf_large). */
  readonly scale?: number;
  /** Bottleneck blocks per stage (default [1, 4, 6, 2]). */
  readonly blocks?: readonly [number, number, number, number];
}

interface ConvArgs {
  readonly kernel?: number;
  readonly stride?: number;
  readonly padding?: number;
  readonly groups?: number;
}

/** A module whose only child is `layers`, optionally adding its input back (a residual). */
class Wrapped extends Module {
  constructor(
    layers: Module[],
    private readonly residual = false,
  ) {
    super();
    this.addModule('layers', new Sequential(...layers));
  }
  call(x: E.Tensor, s: Scope): E.Tensor {
    const y = this.sub('layers', x, s);
    return this.residual ? E.add(x, y) : y;
  }
}

const conv = (cin: number, cout: number, a: ConvArgs): Conv2d =>
  new Conv2d(cin, cout, {
    kernel: a.kernel ?? 1,
    stride: a.stride ?? 1,
    padding: a.padding ?? 0,
    groups: a.groups ?? 1,
  });

/** Conv, BatchNorm, PReLU. */
const convBlock = (cin: number, cout: number, a: ConvArgs = {}): Wrapped =>
  new Wrapped([conv(cin, cout, a), new BatchNorm(cout), new PReLU(cout)]);

/** Conv, BatchNorm (no activation: the linear bottleneck). */
const linearBlock = (cin: number, cout: number, a: ConvArgs = {}): Wrapped =>
  new Wrapped([conv(cin, cout, a), new BatchNorm(cout)]);

/** Inverted bottleneck: 1x1 expand to `hidden`, 3x3 depthwise (maybe strided), 1x1 project. */
const depthWise = (cin: number, cout: number, hidden: number, stride: number, residual: boolean): Wrapped =>
  new Wrapped(
    [
      convBlock(cin, hidden),
      convBlock(hidden, hidden, { kernel: 3, stride, padding: 1, groups: hidden }),
      linearBlock(hidden, cout),
    ],
    residual,
  );

const residualStage = (c: number, n: number, hidden: number): Wrapped =>
  new Wrapped(Array.from({ length: n }, () => depthWise(c, c, hidden, 1, true)));

export class MobileFaceNet extends Module {
  constructor(sampleShape: readonly number[], opts: MobileFaceNetOptions) {
    super();
    const [c, h, w] = sampleShape;
    if (sampleShape.length !== 3 || h !== 112 || w !== 112) {
      throw new Error(`mobilefacenet: samples must be [C, 112, 112], got [${sampleShape.join(',')}]`);
    }
    const k = opts.scale ?? 2;
    const blocks = opts.blocks ?? [1, 4, 6, 2];
    const c64 = 64 * k;
    const c128 = 128 * k;
    this.addModule(
      'layers',
      new Sequential(
        convBlock(c, c64, { kernel: 3, stride: 2, padding: 1 }),
        blocks[0] === 1
          ? convBlock(c64, c64, { kernel: 3, padding: 1, groups: 64 })
          : residualStage(c64, blocks[0], 128),
        depthWise(c64, c64, 128, 2, false),
        residualStage(c64, blocks[1], 128),
        depthWise(c64, c128, 256, 2, false),
        residualStage(c128, blocks[2], 256),
        depthWise(c128, c128, 512, 2, false),
        residualStage(c128, blocks[3], 256),
      ),
    );
    this.addModule('conv_sep', convBlock(c128, 512));
    // GDC: a 7x7 depthwise conv weighs each position of the 7x7 map (faces are aligned), where
    // global average pooling would weigh them equally.
    this.addModule(
      'features',
      new Wrapped([
        linearBlock(512, 512, { kernel: 7, groups: 512 }),
        new Flatten(),
        new Linear(512, opts.embeddingDim, { bias: false }),
        new BatchNorm(opts.embeddingDim),
      ]),
    );
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    return this.sub('features', this.sub('conv_sep', this.sub('layers', x, s), s), s);
  }
}
