/**
 * Checkpoints: one file holding a JSON header (config, progress, tensor directory) and the raw
 * float32 tensors (parameters, optimizer state, BatchNorm statistics). Written atomically (temporary
 * file + rename), so a crash mid-write leaves the previous checkpoint intact.
 *
 * Layout: 8-byte magic `AFTSCKPT`, uint32 LE format version, uint32 LE header length, the UTF-8
 * JSON header, zero padding to a multiple of 4 bytes, then the tensors back to back (little-endian).
 */
import { readFile } from 'node:fs/promises';
import { ParamStore } from '../nn/index.js';
import { writeFileAtomic } from '../util/fs.js';
import type { TrainConfig } from './config.js';

const MAGIC = 'AFTSCKPT';
const VERSION = 1;

/** Where training stands: enough to continue with the same batches in the same order. */
export interface CheckpointMeta {
  /** Optimizer steps done. */
  readonly step: number;
  /** Epoch in progress (0-based); equals config.epochs when training finished. */
  readonly epoch: number;
  /** Batches of `epoch` already trained on (the shuffle order is a function of seed and epoch). */
  readonly batchInEpoch: number;
  /** Shape of one sample, e.g. [1, 28, 28]. */
  readonly sampleShape: readonly number[];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Loss of the last step (NaN never gets here). */
  readonly lastLoss?: number;
  /** ISO time of writing. */
  readonly savedAt?: string;
}

export interface Checkpoint {
  readonly config: TrainConfig;
  readonly meta: CheckpointMeta;
  readonly params: ParamStore;
  /** Optimizer state (may be empty, e.g. for an exported-only model). */
  readonly state: ParamStore;
  readonly buffers: ParamStore;
}

type Group = 'params' | 'state' | 'buffers';
interface TensorEntry {
  readonly name: string;
  readonly group: Group;
  readonly shape: readonly number[];
  /** Offset in float32 elements from the start of the tensor data. */
  readonly offset: number;
}
interface Header {
  readonly format: 'arcface-ts checkpoint';
  readonly config: TrainConfig;
  readonly meta: CheckpointMeta;
  readonly tensors: readonly TensorEntry[];
}

/** Serialise a checkpoint to bytes. */
export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const tensors: TensorEntry[] = [];
  let total = 0;
  const groups: [Group, ParamStore][] = [
    ['params', ck.params],
    ['state', ck.state],
    ['buffers', ck.buffers],
  ];
  for (const [group, store] of groups) {
    for (const [name, t] of store.entriesList()) {
      tensors.push({ name, group, shape: t.shape, offset: total });
      total += t.data.length;
    }
  }
  const header: Header = { format: 'arcface-ts checkpoint', config: ck.config, meta: ck.meta, tensors };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headLen = 16 + json.length;
  const dataStart = Math.ceil(headLen / 4) * 4;
  const bytes = new Uint8Array(dataStart + total * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, json.length, true);
  bytes.set(json, 16);
  const floats = new Float32Array(bytes.buffer, dataStart, total);
  let k = 0;
  for (const [, store] of groups) {
    for (const [, t] of store.entriesList()) {
      floats.set(t.data, tensors[k].offset);
      k++;
    }
  }
  return bytes;
}

/** Bytes that are not a complete, readable checkpoint; `source` names the file. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly source: string,
    why: string,
  ) {
    super(`${source}: not a valid arcface-ts checkpoint (${why})`);
  }
}

/** The header's shape, checked before it is used: a damaged or hand-edited header must fail as a CheckpointError. */
function checkHeader(h: unknown, fail: (why: string) => never): asserts h is Header {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(h) || h.format !== 'arcface-ts checkpoint') return fail('header is not a checkpoint header');
  if (!isObject(h.config) || !isObject(h.meta)) return fail('header lacks config or meta');
  if (!Array.isArray(h.tensors)) return fail('header lacks the tensor list');
  const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const t of h.tensors as unknown[]) {
    const ok =
      isObject(t) &&
      typeof t.name === 'string' &&
      (t.group === 'params' || t.group === 'state' || t.group === 'buffers') &&
      Array.isArray(t.shape) &&
      t.shape.every(count) &&
      Number.isSafeInteger((t.shape as number[]).reduce((a, b) => a * b, 1)) &&
      count(t.offset);
    if (!ok) return fail(`bad tensor entry ${JSON.stringify(t).slice(0, 80)}`);
  }
}

/** Parse checkpoint bytes; throws {@link CheckpointError} for anything that is not a complete checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const fail = (why: string): never => {
    throw new CheckpointError(source, why);
  };
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) fail(`format version ${version}, this build reads ${VERSION}`);
  const jsonLen = view.getUint32(12, true);
  if (16 + jsonLen > bytes.length) fail('truncated header');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + jsonLen))) as Header;
  } catch {
    return fail('unreadable header');
  }
  checkHeader(header, fail);
  const dataStart = Math.ceil((16 + jsonLen) / 4) * 4;
  const stores: Record<Group, ParamStore> = {
    params: new ParamStore(),
    state: new ParamStore(),
    buffers: new ParamStore(),
  };
  for (const t of header.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const start = dataStart + t.offset * 4;
    if (start + n * 4 > bytes.length) fail(`truncated data at tensor '${t.name}'`);
    // Copy: the file buffer's offset need not be 4-byte aligned, and the store must own its arrays.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + n * 4));
    stores[t.group].set(t.name, t.shape, data);
  }
  return { config: header.config, meta: header.meta, ...stores };
}

/** Write a checkpoint atomically. */
export async function saveCheckpoint(path: string, ck: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ck));
}

/** Read a checkpoint file. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(new Uint8Array(await readFile(path)), path);
}
