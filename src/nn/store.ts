/** Named float32 tensors held in JS between steps: parameters, optimizer state, BatchNorm statistics. */
import { sizeOf } from '../engine/index.js';

/** One named tensor: its shape and its row-major values. */
export interface StoredTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Named float32 arrays with their shapes, in a stable insertion order (the module's declaration
 * order), so checkpoints and exports list tensors the same way every run.
 */
export class ParamStore {
  private readonly entries = new Map<string, StoredTensor>();

  /** Add or replace a tensor; the data length must fill the shape. */
  set(name: string, shape: readonly number[], data: Float32Array): void {
    if (data.length !== sizeOf(shape)) {
      throw new Error(
        `ParamStore: '${name}' has ${data.length} values, shape [${shape.join(',')}] needs ${sizeOf(shape)}`,
      );
    }
    this.entries.set(name, { shape: [...shape], data });
  }

  /** Replace the values of an existing tensor (same length). */
  update(name: string, data: Float32Array): void {
    const e = this.entries.get(name);
    if (!e) throw new Error(`ParamStore: no tensor named '${name}'`);
    if (e.data.length !== data.length) {
      throw new Error(`ParamStore: '${name}' has ${e.data.length} values, update has ${data.length}`);
    }
    this.entries.set(name, { shape: e.shape, data });
  }

  get(name: string): StoredTensor {
    const e = this.entries.get(name);
    if (!e)
      throw new Error(
        `ParamStore: no tensor named '${name}' (have ${this.names().slice(0, 8).join(', ')}...)`,
      );
    return e;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Names in insertion order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  entriesList(): [string, StoredTensor][] {
    return [...this.entries.entries()];
  }

  /** Total number of scalars. */
  get count(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.data.length;
    return n;
  }

  /** A deep copy (new arrays). */
  clone(): ParamStore {
    const c = new ParamStore();
    for (const [n, e] of this.entries) c.set(n, e.shape, e.data.slice());
    return c;
  }

  /** The first name whose values hold a NaN or an infinity, or undefined when all are finite. */
  firstNonFinite(): string | undefined {
    for (const [n, e] of this.entries) {
      const d = e.data;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return n;
    }
    return undefined;
  }
}
