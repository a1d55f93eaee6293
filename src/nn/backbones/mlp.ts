/** A multi-layer perceptron backbone: flatten, (Linear, ReLU) per hidden width, optional dropout, Linear to the embedding. */
import * as E from '../../engine/index.js';
import { Flatten, ReLU } from '../layers/basic.js';
import { Dropout } from '../layers/dropout.js';
import { Linear } from '../layers/linear.js';
import { Sequential } from '../layers/sequential.js';
import { Module, type Scope } from '../module.js';

export interface MlpOptions {
  /** Hidden widths (default [256]). */
  readonly hidden?: readonly number[];
  /** Embedding size D. */
  readonly embeddingDim: number;
  /** Dropout before the last layer (default 0). */
  readonly dropout?: number;
}

/** Maps [N, ...sampleShape] to [N, D]. */
export class Mlp extends Module {
  constructor(inputSize: number, opts: MlpOptions) {
    super();
    const layers: Module[] = [new Flatten()];
    let width = inputSize;
    for (const h of opts.hidden ?? [256]) {
      layers.push(new Linear(width, h, { init: { kind: 'kaiming-normal', fanIn: width } }), new ReLU());
      width = h;
    }
    if (opts.dropout) layers.push(new Dropout(opts.dropout));
    layers.push(new Linear(width, opts.embeddingDim));
    this.addModule('layers', new Sequential(...layers));
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    return this.sub('layers', x, s);
  }
}
