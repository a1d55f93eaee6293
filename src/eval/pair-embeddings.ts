/**
 * Where the embeddings of a pairs list's images come from: an {@link Embedder} run over the image
 * folder (face/ supplies one), or an embeddings file keyed by relative image path.
 */
import { join } from 'node:path';
import type { EmbeddingSet } from './embeddings-io.js';

/** Embeds one image file; face/'s pipeline (detect, align, embed) fits this shape. */
export type Embedder = (imagePath: string) => Promise<Float32Array>;

/**
 * Embeds many image files, reporting progress; a failed image gives an Error in its place. Lets a
 * caller batch recogniser calls (face/'s `embedMany`).
 */
export type BatchEmbedder = (
  imagePaths: readonly string[],
  onProgress: (done: number) => void,
) => Promise<readonly (Float32Array | Error)[]>;

/** A batch embedder that calls a one-image embedder in turn. */
export function oneByOne(embed: Embedder): BatchEmbedder {
  return async (paths, onProgress) => {
    const out: (Float32Array | Error)[] = [];
    for (const p of paths) {
      out.push(await embed(p).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
      onProgress(out.length);
    }
    return out;
  };
}

/** An image that could not be embedded. */
export interface EmbedFailure {
  readonly path: string;
  readonly message: string;
}

/** Embeddings for a list of images, in order; failed rows are zero and listed. */
export interface EmbeddedImages {
  readonly dim: number;
  readonly vectors: Float32Array;
  /** Per row: false where embedding failed. */
  readonly ok: readonly boolean[];
  readonly failures: readonly EmbedFailure[];
}

/**
 * Embed images.
 * @param root the image folder
 * @param paths image paths relative to root
 * @param embed a {@link BatchEmbedder}, or {@link oneByOne} around an {@link Embedder}
 * @param opts.onProgress called as images are embedded, with the count done and `paths.length`
 */
export async function embedImages(
  root: string,
  paths: readonly string[],
  embed: BatchEmbedder,
  opts: { readonly onProgress?: (done: number, total: number) => void } = {},
): Promise<EmbeddedImages> {
  const results = await embed(
    paths.map((p) => join(root, p)),
    (done) => opts.onProgress?.(done, paths.length),
  );
  if (results.length !== paths.length)
    throw new Error(`embedder returned ${results.length} results for ${paths.length} images`);
  const failures: EmbedFailure[] = [];
  const first = results.find((r): r is Float32Array => !(r instanceof Error));
  const dim = first?.length ?? 0;
  const vectors = new Float32Array(paths.length * dim);
  const ok = results.map((r, i) => {
    if (r instanceof Error) failures.push({ path: paths[i], message: r.message });
    else if (r.length !== dim)
      failures.push({ path: paths[i], message: `embedding has ${r.length} values, others ${dim}` });
    else {
      vectors.set(r, i * dim);
      return true;
    }
    return false;
  });
  if (dim === 0) {
    const f = failures[0];
    throw new Error(`no image could be embedded${f ? ` (first failure: ${f.path}: ${f.message})` : ''}`);
  }
  return { dim, vectors, ok, failures };
}

const normPath = (p: string): string => p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
/** The last two path segments, `Name/Name_0001.jpg` in LFW's layout. */
const tail2 = (p: string): string => p.split('/').slice(-2).join('/');

/**
 * Rows of an embeddings file for a list of relative image paths. Paths match exactly (after turning
 * backslashes into slashes and dropping a leading `./`), or else by their last two segments when
 * that is unambiguous (files written with absolute paths).
 */
export function embeddingsForPaths(set: EmbeddingSet, paths: readonly string[]): EmbeddedImages {
  const exact = new Map<string, number>();
  const byTail = new Map<string, number | null>();
  set.meta.forEach((m, i) => {
    if (m.path === undefined) return;
    const p = normPath(m.path);
    exact.set(p, i);
    const t = tail2(p);
    byTail.set(t, byTail.has(t) ? null : i);
  });
  const vectors = new Float32Array(paths.length * set.dim);
  const ok: boolean[] = [];
  const failures: EmbedFailure[] = [];
  paths.forEach((p, i) => {
    const q = normPath(p);
    const row = exact.get(q) ?? byTail.get(tail2(q)) ?? undefined;
    if (row === undefined || row === null) {
      failures.push({ path: p, message: 'no embedding with this path in the embeddings file' });
      ok.push(false);
      return;
    }
    vectors.set(set.vectors.subarray(row * set.dim, (row + 1) * set.dim), i * set.dim);
    ok.push(true);
  });
  return { dim: set.dim, vectors, ok, failures };
}
