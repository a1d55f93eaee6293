/**
 * The module system: a tree of modules with named parameters and buffers, seeded initialisation, and
 * a `forward` that builds the symbolic graph. Parameters and buffers become named graph inputs
 * (their dotted names, e.g. `layer1.0.conv1.weight`), so one graph serves every step and the values
 * live in JS (a ParamStore) between steps.
 */
import * as E from '../engine/index.js';
import { type Init, initValues } from './init.js';
import { ParamStore } from './store.js';

/** 'train' uses batch statistics (and records running-statistic updates) and enables dropout. */
export type Mode = 'train' | 'eval';

/** A parameter declared by a module (local name). */
export interface ParamDecl {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
  /** Whether weight decay applies (false for BatchNorm affine parameters and biases by convention). */
  readonly decay: boolean;
}

/** A non-trained state tensor (BatchNorm running mean / variance), with its initial fill value. */
export interface BufferDecl {
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: number;
}

/** Options for building a forward graph. */
export interface ForwardOptions {
  /**
   * Symbolic tensors to use for parameters and buffers, by dotted name; missing names become
   * graph inputs named after the tensor. Export passes folded weights here.
   */
  readonly tensors?: ReadonlyMap<string, E.Tensor>;
  /** Dotted names of BatchNorm modules folded into the preceding conv/linear: they act as identity. */
  readonly folded?: ReadonlySet<string>;
  /** Dotted-name prefix of this module's tensors (default none: the module is the root). */
  readonly prefix?: string;
}

/** What `forward` built. */
export interface ForwardResult {
  /** The module's output. */
  readonly y: E.Tensor;
  /** Every parameter tensor the graph uses, by dotted name. */
  readonly params: ReadonlyMap<string, E.Tensor>;
  /** Every buffer tensor the graph reads, by dotted name. */
  readonly buffers: ReadonlyMap<string, E.Tensor>;
  /** Train mode: the updated value of each buffer (BatchNorm running statistics), by dotted name. */
  readonly updates: ReadonlyMap<string, E.Tensor>;
  /** Train mode: the random masks the graph takes as inputs (dropout), by input name. */
  readonly masks: ReadonlyMap<string, MaskSpec>;
}

/**
 * A random keep-mask fed as a graph input: values 1 / (1 - rate) with probability 1 - rate, else 0.
 * Masks are drawn in JS from the run seed and the step, so a resumed run draws the same masks.
 */
export interface MaskSpec {
  readonly shape: readonly number[];
  readonly rate: number;
}

/** Shared state of one forward build. */
class Env {
  readonly updates = new Map<string, E.Tensor>();
  readonly params = new Map<string, E.Tensor>();
  readonly buffers = new Map<string, E.Tensor>();
  readonly masks = new Map<string, MaskSpec>();
  constructor(
    readonly mode: Mode,
    readonly opts: ForwardOptions,
  ) {}
}

/** A module's view of the forward build: its mode, its parameters, and where to record updates. */
export class Scope {
  constructor(
    private readonly env: Env,
    readonly path: string,
  ) {}

  get mode(): Mode {
    return this.env.mode;
  }

  private full(local: string): string {
    return this.path ? `${this.path}.${local}` : local;
  }

  /** The scope of a child module. */
  child(name: string): Scope {
    return new Scope(this.env, this.full(name));
  }

  /** This module's parameter `local`, with the declared shape. */
  param(local: string, shape: readonly number[]): E.Tensor {
    const name = this.full(local);
    const t = this.env.opts.tensors?.get(name) ?? this.env.params.get(name) ?? E.input(name, shape);
    this.env.params.set(name, t);
    return t;
  }

  /** A tensor supplied through ForwardOptions.tensors only (e.g. a bias added by BatchNorm folding). */
  extra(local: string): E.Tensor | undefined {
    const t = this.env.opts.tensors?.get(this.full(local));
    if (t) this.env.params.set(this.full(local), t);
    return t;
  }

  /** This module's buffer `local`. */
  buffer(local: string, shape: readonly number[]): E.Tensor {
    const name = this.full(local);
    const t = this.env.opts.tensors?.get(name) ?? this.env.buffers.get(name) ?? E.input(name, shape);
    this.env.buffers.set(name, t);
    return t;
  }

  /** Record the new value of buffer `local` (train mode). */
  setBuffer(local: string, value: E.Tensor): void {
    this.env.updates.set(this.full(local), value);
  }

  /** Whether this module (a BatchNorm) was folded into its predecessor for export. */
  get folded(): boolean {
    return this.env.opts.folded?.has(this.path) ?? false;
  }

  /** A dropout keep-mask input for this module, fed each step (see MaskSpec). */
  mask(local: string, shape: readonly number[], rate: number): E.Tensor {
    const name = this.full(local);
    this.env.masks.set(name, { shape: [...shape], rate });
    return E.input(name, shape);
  }
}

/** A building block: declared parameters, buffers and children, and a graph-building `call`. */
export abstract class Module {
  private readonly childMap = new Map<string, Module>();
  private readonly paramDecls: ParamDecl[] = [];
  private readonly bufferDecls: BufferDecl[] = [];

  /** Register a child module under `name` (becomes part of the dotted names). */
  protected addModule<M extends Module>(name: string, m: M): M {
    if (this.childMap.has(name)) throw new Error(`module: duplicate child '${name}'`);
    this.childMap.set(name, m);
    return m;
  }

  /** Declare a parameter. */
  protected addParam(name: string, shape: readonly number[], init: Init, decay = true): void {
    this.paramDecls.push({ name, shape: [...shape], init, decay });
  }

  /** Declare a buffer. */
  protected addBuffer(name: string, shape: readonly number[], value: number): void {
    this.bufferDecls.push({ name, shape: [...shape], value });
  }

  /** Build this module's output from `x` in scope `s` (parameters are read through `s`). */
  abstract call(x: E.Tensor, s: Scope): E.Tensor;

  /** Run child `name` on x. */
  protected sub(name: string, x: E.Tensor, s: Scope): E.Tensor {
    const m = this.childMap.get(name);
    if (!m) throw new Error(`module: no child '${name}'`);
    return m.call(x, s.child(name));
  }

  /** Children in registration order. */
  children(): [string, Module][] {
    return [...this.childMap.entries()];
  }

  /**
   * 'affine' for layers that can absorb a following eval-mode BatchNorm (conv, linear: per output
   * channel scale and bias), 'batchnorm' for BatchNorm itself.
   */
  get foldRole(): 'affine' | 'batchnorm' | undefined {
    return undefined;
  }

  /**
   * (conv or linear, batchnorm) pairs of direct children where the BatchNorm directly follows the
   * layer with nothing in between, so eval-mode BN can be folded into the layer's weights.
   */
  foldPairs(): [string, string][] {
    return [];
  }

  /** Every parameter with its dotted name, depth first in declaration order. */
  namedParams(prefix = ''): [string, ParamDecl][] {
    const out: [string, ParamDecl][] = this.paramDecls.map((p) => [join(prefix, p.name), p]);
    for (const [n, c] of this.childMap) out.push(...c.namedParams(join(prefix, n)));
    return out;
  }

  /** Every buffer with its dotted name. */
  namedBuffers(prefix = ''): [string, BufferDecl][] {
    const out: [string, BufferDecl][] = this.bufferDecls.map((b) => [join(prefix, b.name), b]);
    for (const [n, c] of this.childMap) out.push(...c.namedBuffers(join(prefix, n)));
    return out;
  }

  /** Every module with its dotted name (the root is ''). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.childMap) out.push(...c.namedModules(join(prefix, n)));
    return out;
  }

  /**
   * Fresh parameters, deterministic in `seed` and each tensor's dotted name.
   * @param prefix prefix of the names (when this module is not the root)
   */
  initParams(seed: number, prefix = ''): ParamStore {
    const store = new ParamStore();
    for (const [name, p] of this.namedParams(prefix)) {
      const size = p.shape.reduce((a, b) => a * b, 1);
      store.set(name, p.shape, initValues(p.init, name, size, seed));
    }
    return store;
  }

  /** Initial buffers (running mean 0, running variance 1). */
  initBuffers(): ParamStore {
    const store = new ParamStore();
    for (const [name, b] of this.namedBuffers()) {
      const size = b.shape.reduce((a, c) => a * c, 1);
      store.set(name, b.shape, new Float32Array(size).fill(b.value));
    }
    return store;
  }

  /**
   * Build the symbolic graph of this module applied to x.
   * @param x input, e.g. [N, C, H, W] images or [N, D] vectors
   * @param mode 'train' (batch statistics, running-stat updates, dropout) or 'eval'
   */
  forward(x: E.Tensor, mode: Mode, opts: ForwardOptions = {}): ForwardResult {
    return this.build(mode, opts, (s) => this.call(x, s));
  }

  /** Like forward, for graphs other than `call` (e.g. a head's loss, which also takes labels). */
  build<T>(mode: Mode, opts: ForwardOptions, fn: (s: Scope) => T): Omit<ForwardResult, 'y'> & { y: T } {
    const env = new Env(mode, opts);
    const y = fn(new Scope(env, opts.prefix ?? ''));
    return { y, params: env.params, buffers: env.buffers, updates: env.updates, masks: env.masks };
  }
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}
