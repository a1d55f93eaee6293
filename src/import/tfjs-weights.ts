/**
 * Decoding a TF.js weights manifest and its .bin shards into host arrays: float32 and int32 weights as
 * stored, and quantised ones (uint8 / uint16 affine, float16) expanded back to float32.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TfWeightEntry, TfWeightGroup, TfjsModelJson } from './tfjs-format.js';

/** A weight decoded on the host: row-major data with its TF shape. */
export type HostTensor =
  | { readonly dtype: 'float32'; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'int32'; readonly shape: readonly number[]; readonly data: Int32Array }
  | { readonly dtype: 'bool'; readonly shape: readonly number[]; readonly data: Uint8Array };

const STORED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const PLAIN_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Decode one IEEE-754 half-precision value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function byteLength(w: TfWeightEntry): number {
  const n = count(w.shape);
  if (w.quantization) {
    const b = STORED_BYTES[w.quantization.dtype];
    if (!b) throw new Error(`weight '${w.name}': unsupported quantisation dtype '${w.quantization.dtype}'`);
    return n * b;
  }
  const b = PLAIN_BYTES[w.dtype];
  if (!b) throw new Error(`weight '${w.name}': unsupported dtype '${w.dtype}'`);
  return n * b;
}

function decodeOne(w: TfWeightEntry, bytes: Uint8Array): HostTensor {
  const n = count(w.shape);
  // Copy into an aligned buffer of its own (weights start at arbitrary offsets within a shard); a Node
  // Buffer's slice() would share memory, so copy through the Uint8Array constructor.
  const buf = new Uint8Array(bytes).buffer;
  const view = new DataView(buf);
  const q = w.quantization;
  if (q) {
    const out = new Float32Array(n);
    if (q.dtype === 'float16') {
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    } else {
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < n; i++) {
        const v = q.dtype === 'uint8' ? view.getUint8(i) : view.getUint16(2 * i, true);
        out[i] = v * scale + min;
      }
    }
    if (w.dtype === 'int32')
      return { dtype: 'int32', shape: w.shape, data: Int32Array.from(out, Math.round) };
    return { dtype: 'float32', shape: w.shape, data: out };
  }
  if (w.dtype === 'float32') return { dtype: 'float32', shape: w.shape, data: new Float32Array(buf, 0, n) };
  if (w.dtype === 'int32') return { dtype: 'int32', shape: w.shape, data: new Int32Array(buf, 0, n) };
  return { dtype: 'bool', shape: w.shape, data: new Uint8Array(buf, 0, n) };
}

/**
 * Decode every weight of a manifest from its groups' shard bytes.
 * @param shards one byte array per group: that group's .bin files concatenated
 */
export function decodeWeights(
  groups: readonly TfWeightGroup[],
  shards: readonly Uint8Array[],
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  groups.forEach((g, gi) => {
    const bytes = shards[gi];
    let offset = 0;
    for (const w of g.weights) {
      if (w.dtype === 'string' || w.dtype === 'complex64') {
        throw new Error(`weight '${w.name}': dtype '${w.dtype}' is not supported`);
      }
      const len = byteLength(w);
      if (offset + len > bytes.length) {
        throw new Error(
          `weight '${w.name}' needs bytes ${offset}..${offset + len} but its shards hold ${bytes.length}`,
        );
      }
      out.set(w.name, decodeOne(w, bytes.subarray(offset, offset + len)));
      offset += len;
    }
  });
  return out;
}

/** Read a group's shard files (relative to the model.json's folder), concatenated. */
async function readShards(base: string, group: TfWeightGroup): Promise<Uint8Array> {
  const parts = await Promise.all(
    group.paths.map(async (p) => {
      const file = join(base, decodeURIComponent(p));
      try {
        return await readFile(file);
      } catch (err) {
        throw new Error(`cannot read weights shard ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
          cause: err,
        });
      }
    }),
  );
  return parts.length === 1 ? parts[0] : new Uint8Array(Buffer.concat(parts));
}

/**
 * Read and decode the weights of a model.json (or of a bare weights manifest, as face-api ships).
 * @param jsonPath the model.json or manifest path; shard paths are relative to its folder
 */
export async function readWeights(
  jsonPath: string,
  manifest: TfjsModelJson['weightsManifest'],
): Promise<Map<string, HostTensor>> {
  const base = dirname(jsonPath);
  const shards = await Promise.all(manifest.map((g) => readShards(base, g)));
  return decodeWeights(manifest, shards);
}
