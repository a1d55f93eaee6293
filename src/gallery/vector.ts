/**
 * Embeddings to and from pgvector. Written as text: JavaScript's shortest decimal for the float32 value (held
 * exactly in a double) parses back to the same float32 in pgvector's strtof. Read as `vector_send` bytes
 * (big-endian float32), so reads are bit-exact without trusting any decimal round trip.
 */
import { GalleryError } from './errors.js';

/** Vector literal for `$n::vector`. @throws 'bad-embedding' when a value is not finite. */
export function vectorLiteral(v: Float32Array): string {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      throw new GalleryError('bad-embedding', `embedding value ${i} is ${v[i]}: embeddings must be finite`);
    }
  }
  // JSON's number format is the shortest round-trip decimal, and its array syntax is pgvector's; the native
  // serialiser is about 7x faster than formatting element by element.
  return JSON.stringify(Array.from(v));
}

/** Decode `vector_send` output: uint16 dimension, uint16 unused, then big-endian float32s. */
export function decodeVectorSend(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dim = view.getUint16(0);
  if (bytes.byteLength !== 4 + 4 * dim) {
    throw new Error(`vector_send gave ${bytes.byteLength} bytes for ${dim} dimensions`);
  }
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = view.getFloat32(4 + 4 * i);
  return out;
}

/** Float32 values as little-endian bytes in base64 (the export format: exact, compact). */
export function float32ToBase64(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(4 * i, v[i], true);
  return Buffer.from(bytes).toString('base64');
}

/** Inverse of {@link float32ToBase64}. @throws 'bad-input' when the length is not a multiple of 4 bytes. */
export function base64ToFloat32(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length % 4 !== 0 || bytes.length === 0) {
    throw new GalleryError('bad-input', `embedding is ${bytes.length} bytes: expected whole float32s`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/**
 * Check an embedding before it is stored or searched with: the right length, finite, unit length (within 1e-3,
 * since cosine ranking assumes it).
 */
export function checkEmbedding(v: Float32Array, dim: number, recognizer: string): void {
  if (v.length !== dim) {
    throw new GalleryError(
      'bad-embedding',
      `embedding has ${v.length} dimensions but ${recognizer} embeddings have ${dim}`,
    );
  }
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      throw new GalleryError('bad-embedding', `embedding value ${i} is ${v[i]}: embeddings must be finite`);
    }
    n += v[i] * v[i];
  }
  if (Math.abs(Math.sqrt(n) - 1) > 1e-3) {
    throw new GalleryError(
      'bad-embedding',
      `embedding has length ${Math.sqrt(n).toFixed(4)}: expected an L2-normalised (unit) vector`,
    );
  }
}
