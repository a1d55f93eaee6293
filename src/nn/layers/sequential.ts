/** A chain of modules named 0, 1, 2, ... (as PyTorch's nn.Sequential), or by explicit names. */
import type * as E from '../../engine/index.js';
import { Module, type Scope } from '../module.js';

export class Sequential extends Module {
  private readonly order: string[] = [];

  /** @param layers modules, or [name, module] pairs for named children */
  constructor(...layers: (Module | [string, Module])[]) {
    super();
    layers.forEach((l, i) => {
      const [name, m] = Array.isArray(l) ? l : [String(i), l];
      this.addModule(name, m);
      this.order.push(name);
    });
  }

  call(x: E.Tensor, s: Scope): E.Tensor {
    let y = x;
    for (const n of this.order) y = this.sub(n, y, s);
    return y;
  }

  override foldPairs(): [string, string][] {
    const kids = this.children();
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < kids.length; i++) {
      const [a, ma] = kids[i];
      const [b, mb] = kids[i + 1];
      if (ma.foldRole === 'affine' && mb.foldRole === 'batchnorm') pairs.push([a, b]);
    }
    return pairs;
  }
}
