/**
 * The TensorFlow.js graph-model file format (model.json), typed: the GraphDef nodes with their attributes
 * as the tfjs converter writes them (protobuf JSON: int64 as strings, strings as base64), the weights
 * manifest, and readers that turn attribute values into plain numbers and strings.
 */

/** One dimension of a TensorShapeProto; `size` is an int64 written as a string, -1 when unknown. */
export interface TfDim {
  readonly size?: string | number;
}

export interface TfShape {
  readonly dim?: readonly TfDim[];
  readonly unknownRank?: boolean;
}

/** A list attribute: only the member matching the list's element type is present. */
export interface TfAttrList {
  readonly i?: readonly (string | number)[];
  readonly f?: readonly number[];
  readonly s?: readonly string[];
  readonly b?: readonly boolean[];
  readonly type?: readonly string[];
  readonly shape?: readonly TfShape[];
}

/** An AttrValue: exactly one member is present. */
export interface TfAttrValue {
  readonly i?: string | number;
  readonly f?: number;
  readonly b?: boolean;
  /** Base64-encoded bytes. */
  readonly s?: string;
  /** A DataType enum name, e.g. `DT_FLOAT`. */
  readonly type?: string;
  readonly shape?: TfShape;
  readonly list?: TfAttrList;
  readonly tensor?: { readonly dtype?: string; readonly tensorShape?: TfShape };
  readonly func?: { readonly name?: string };
}

/** One GraphDef node. Inputs are `name`, `name:k` (output k) or `^name` (a control dependency). */
export interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, TfAttrValue>>;
  readonly device?: string;
}

/** Quantisation of one stored weight: `dtype` is how it is stored, `original_dtype` what it decodes to. */
export interface TfQuantization {
  readonly dtype: 'uint8' | 'uint16' | 'float16';
  /** Affine dequantisation for uint8/uint16: value = q * scale + min. */
  readonly scale?: number;
  readonly min?: number;
  readonly original_dtype?: string;
}

/** One weight in the manifest, stored in order in the group's concatenated .bin files. */
export interface TfWeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  readonly quantization?: TfQuantization;
}

export interface TfWeightGroup {
  /** .bin files relative to the model.json, concatenated in order. */
  readonly paths: readonly string[];
  readonly weights: readonly TfWeightEntry[];
}

/** A signature entry: the tensor name (`node` or `node:k`) behind an input or output key. */
export interface TfSignatureEntry {
  readonly name?: string;
  readonly dtype?: string;
  readonly tensorShape?: TfShape;
}

/** A TF.js graph model's model.json. Layers models (format 'layers-model') are not handled here. */
export interface TfjsModelJson {
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string;
  readonly modelTopology: {
    readonly node: readonly TfNode[];
    readonly library?: { readonly function?: readonly unknown[] };
    readonly versions?: unknown;
  };
  readonly weightsManifest: readonly TfWeightGroup[];
  readonly signature?: {
    readonly inputs?: Readonly<Record<string, TfSignatureEntry>>;
    readonly outputs?: Readonly<Record<string, TfSignatureEntry>>;
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Check the parts of a parsed model.json the importer relies on, so a wrong file fails here with a message
 * rather than deep inside the conversion.
 * @param what the file name, for messages
 */
export function parseModelJson(value: unknown, what: string): TfjsModelJson {
  if (!isRecord(value)) throw new Error(`${what}: not a JSON object`);
  const topo = value.modelTopology;
  if (!isRecord(topo) || !Array.isArray(topo.node)) {
    const hint = value.format === 'layers-model' ? ' (a layers model; only graph models are supported)' : '';
    throw new Error(`${what}: no modelTopology.node list: not a TF.js graph model${hint}`);
  }
  if (!Array.isArray(value.weightsManifest)) throw new Error(`${what}: no weightsManifest`);
  for (const n of topo.node as unknown[]) {
    if (!isRecord(n) || typeof n.name !== 'string' || typeof n.op !== 'string') {
      throw new Error(`${what}: a node without a name or op: ${JSON.stringify(n).slice(0, 200)}`);
    }
  }
  for (const g of value.weightsManifest as unknown[]) {
    if (!isRecord(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`${what}: a weightsManifest group needs paths and weights`);
    }
  }
  const library = isRecord(topo.library) ? topo.library.function : undefined;
  if (Array.isArray(library) && library.length > 0) {
    // Control flow (While/If bodies) lives in library functions; none of the face models use it.
    throw new Error(`${what}: graph functions (control flow) are not supported`);
  }
  return value as unknown as TfjsModelJson;
}

/** Split a node input reference into the producing node's name and output index; null for `^control` inputs. */
export function parseInputRef(ref: string): { node: string; index: number } | null {
  if (ref.startsWith('^')) return null;
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? { node: m[1], index: Number(m[2]) } : { node: ref, index: 0 };
}

/** Attribute readers that name the node and attribute when a value is missing or of the wrong kind. */
export class Attrs {
  constructor(private readonly node: TfNode) {}

  private get(key: string): TfAttrValue | undefined {
    return this.node.attr?.[key];
  }

  private missing(key: string, kind: string): Error {
    return new Error(`${this.node.op} '${this.node.name}': attribute '${key}' (${kind}) is missing`);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  int(key: string, fallback?: number): number {
    const v = this.get(key)?.i;
    if (v === undefined) {
      if (fallback === undefined) throw this.missing(key, 'int');
      return fallback;
    }
    return Number(v);
  }

  float(key: string, fallback?: number): number {
    const v = this.get(key)?.f;
    if (v === undefined) {
      if (fallback === undefined) throw this.missing(key, 'float');
      return fallback;
    }
    return Number(v);
  }

  bool(key: string, fallback = false): boolean {
    return this.get(key)?.b ?? fallback;
  }

  string(key: string, fallback?: string): string {
    const v = this.get(key)?.s;
    if (v === undefined) {
      if (fallback === undefined) throw this.missing(key, 'string');
      return fallback;
    }
    return decodeBase64(v);
  }

  ints(key: string, fallback?: readonly number[]): number[] {
    const v = this.get(key)?.list;
    if (v === undefined) {
      if (fallback === undefined) throw this.missing(key, 'list(int)');
      return [...fallback];
    }
    return (v.i ?? []).map(Number);
  }

  strings(key: string): string[] {
    return (this.get(key)?.list?.s ?? []).map(decodeBase64);
  }

  type(key: string, fallback?: string): string {
    const v = this.get(key)?.type;
    if (v === undefined) {
      if (fallback === undefined) throw this.missing(key, 'type');
      return fallback;
    }
    return v;
  }

  shape(key: string): number[] | undefined {
    const s = this.get(key)?.shape;
    if (!s || s.unknownRank) return undefined;
    return (s.dim ?? []).map((d) => Number(d.size ?? -1));
  }
}

function decodeBase64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}
