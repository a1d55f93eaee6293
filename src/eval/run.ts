/**
 * The two evaluation runs, from loaded inputs to outcomes: a pairs list with its images' embeddings,
 * and a labelled set of embeddings (all-pairs verification and identification).
 */
import { type IdentificationSummary, type IdentifyOptions, identifyLabelled } from './identification.js';
import type { EmbeddedImages } from './pair-embeddings.js';
import { type LineIssue, LineIssuesError, type PairImages, type PairsList } from './pairs.js';
import { MAX_ALL_PAIRS, allPairsScores, l2Normalize, pairScores } from './similarity.js';
import { type VerificationOutcome, verifyAllPairs, verifyPairs } from './verification.js';

/** The long stages of a run, as {@link RunOptions.onProgress} names them. */
export type RunStage = 'scoring all pairs' | 'searching the gallery';

/** Options common to both runs. */
export interface RunOptions {
  /** ONNX Runtime threads for scoring (default: all cores). */
  readonly threads?: number;
  /**
   * Called as long stages advance: `done` of `total` units of `stage` ('scoring all pairs': embeddings,
   * 'searching the gallery': probes). A stage's first call comes before its work starts.
   */
  readonly onProgress?: (stage: RunStage, done: number, total: number) => void;
  readonly fars?: readonly number[];
}

/**
 * Score and verify a pairs list.
 * @param embedded one row per entry of `images.paths`
 * @param opts.skipFailed drop pairs that use an image without an embedding (noted), instead of throwing
 *   a {@link LineIssuesError} that names each such pair's line
 * @param opts.k folds when the pairs file defines none (default 10)
 */
export async function runPairs(
  list: PairsList,
  images: PairImages,
  embedded: EmbeddedImages,
  opts: RunOptions & { readonly skipFailed?: boolean; readonly k?: number } = {},
): Promise<{ verification: VerificationOutcome; notes: string[] }> {
  const notes: string[] = [];
  const keep: number[] = [];
  const issues: LineIssue[] = [];
  const why = new Map(embedded.failures.map((f) => [f.path, f.message]));
  list.pairs.forEach((p, i) => {
    const bad = [images.indexA[i], images.indexB[i]].filter((r) => !embedded.ok[r]);
    if (bad.length === 0) keep.push(i);
    else
      for (const r of bad)
        issues.push({
          line: p.line,
          message: `${images.paths[r]}: ${why.get(images.paths[r]) ?? 'no embedding'}`,
        });
  });
  if (issues.length && !opts.skipFailed)
    throw new LineIssuesError(list.source, issues, [
      'image without an embedding',
      'images without an embedding',
    ]);
  if (issues.length) {
    notes.push(
      `${list.pairs.length - keep.length} of ${list.pairs.length} pairs dropped: ${embedded.failures.length} image(s) had no embedding ` +
        `(e.g. ${embedded.failures[0]?.path}); accuracy is over the remaining pairs, not the full protocol`,
    );
  }
  // Rows that failed are never scored; give them a unit vector so normalisation accepts them.
  const vectors = embedded.vectors.slice();
  embedded.ok.forEach((ok, r) => {
    if (!ok) vectors[r * embedded.dim] = 1;
  });
  const normed = l2Normalize(vectors, embedded.dim, (r) => `the embedding of ${images.paths[r]}`);
  const a = Int32Array.from(keep, (i) => images.indexA[i]);
  const b = Int32Array.from(keep, (i) => images.indexB[i]);
  const scores = await pairScores(normed, embedded.dim, a, b, { threads: opts.threads });
  const same = Uint8Array.from(keep, (i) => (list.pairs[i].same ? 1 : 0));
  const folds = list.folds === null ? null : Int32Array.from(keep, (i) => list.pairs[i].fold);
  const verification = verifyPairs(scores, same, folds, { k: opts.k, fars: opts.fars });
  if (verification.summary.kfoldNote) notes.push(verification.summary.kfoldNote);
  return { verification, notes };
}

/**
 * Evaluate a labelled set: verification over every pair within it, and identification with the
 * gallery/probe split of {@link identifyLabelled}.
 * @param vectors [labels.length, dim] embeddings (normalised here)
 */
export async function runLabelled(
  vectors: Float32Array,
  dim: number,
  labels: readonly string[],
  opts: RunOptions &
    Omit<IdentifyOptions, 'threads' | 'onProgress'> & {
      readonly allPairs?: boolean;
      readonly identification?: boolean;
    } = {},
): Promise<{
  verification: VerificationOutcome | null;
  identification: IdentificationSummary | null;
  notes: string[];
}> {
  const notes: string[] = [];
  const normed = l2Normalize(vectors, dim);
  const n = labels.length;
  let verification: VerificationOutcome | null = null;
  if (opts.allPairs ?? true) {
    if ((n * (n - 1)) / 2 > MAX_ALL_PAIRS) {
      notes.push(
        `all-pairs verification skipped: ${n} embeddings make ${(n * (n - 1)) / 2} pairs (limit ${MAX_ALL_PAIRS})`,
      );
    } else {
      const ids = new Map<string, number>();
      const labelIds = Int32Array.from(labels, (l) => {
        if (!ids.has(l)) ids.set(l, ids.size);
        return ids.get(l)!;
      });
      opts.onProgress?.('scoring all pairs', 0, n);
      const all = await allPairsScores(normed, dim, labelIds, {
        threads: opts.threads,
        onProgress: (d) => opts.onProgress?.('scoring all pairs', d, n),
      });
      if (all.genuine.length === 0)
        notes.push('all-pairs verification skipped: no identity has two embeddings');
      else verification = verifyAllPairs(all.genuine, all.impostor, { fars: opts.fars });
    }
  }
  let identification: IdentificationSummary | null = null;
  if (opts.identification ?? true) {
    // The probe count is known only after the split, so this stage's first report is its first update.
    identification = await identifyLabelled(normed, dim, labels, {
      ...opts,
      onProgress: (done, total) => opts.onProgress?.('searching the gallery', done, total),
    });
    if (identification.note) notes.push(identification.note);
  }
  return { verification, identification, notes };
}
