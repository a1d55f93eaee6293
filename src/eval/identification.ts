/**
 * Identification protocols on labelled embeddings: closed-set rank-k and the CMC curve, open-set
 * DIR at FPIR (rank-1 detection and identification rate at a false positive identification rate).
 */
import { seededRandom } from '../util/random.js';
import { type TarAtFar, rocCurve, tarAtFar } from './roc.js';
import { type SearchOptions, searchGallery } from './search.js';

/** Which rows enrol, which probe. */
export interface IdentificationSplit {
  /** Distinct enrolled identities, in order of first appearance. */
  readonly identities: readonly string[];
  /** Per enrolled identity, the rows averaged into its template. */
  readonly galleryRows: readonly (readonly number[])[];
  /** Rows whose identity is enrolled, and the gallery index of that identity. */
  readonly matedRows: readonly number[];
  readonly matedIdentity: Int32Array;
  /** Rows whose identity is not enrolled (open-set impostors). */
  readonly nonMatedRows: readonly number[];
}

/**
 * Split one labelled set: for each identity with at least two rows, its first `enrol` rows (in
 * file order, default 1) form its gallery template and the rest are mated probes. Identities with
 * too few rows to both enrol and probe, and a `holdout` fraction of the others chosen by `seed`,
 * are not enrolled: all their rows are non-mated probes for the open-set measures.
 */
export function splitForIdentification(
  labels: readonly string[],
  opts: { readonly enrol?: number; readonly holdout?: number; readonly seed?: number } = {},
): IdentificationSplit {
  const enrol = opts.enrol ?? 1;
  const holdout = opts.holdout ?? 0;
  if (!(holdout >= 0 && holdout < 1))
    throw new Error(`identification: holdout must be in [0, 1), got ${holdout}`);
  const rowsOf = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const list = rowsOf.get(l);
    if (list) list.push(i);
    else rowsOf.set(l, [i]);
  });
  const eligible = [...rowsOf.keys()].filter((l) => rowsOf.get(l)!.length > enrol);
  // Fisher-Yates on the eligible identities; the first `holdout` share stays out of the gallery.
  const rnd = seededRandom(opts.seed ?? 0);
  const shuffled = [...eligible];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const held = new Set(shuffled.slice(0, Math.round(holdout * shuffled.length)));
  const identities: string[] = [];
  const galleryRows: number[][] = [];
  const matedRows: number[] = [];
  const matedIdentity: number[] = [];
  const nonMatedRows: number[] = [];
  for (const [label, rows] of rowsOf) {
    if (rows.length <= enrol || held.has(label)) {
      nonMatedRows.push(...rows);
      continue;
    }
    const id = identities.length;
    identities.push(label);
    galleryRows.push(rows.slice(0, enrol));
    for (const r of rows.slice(enrol)) {
      matedRows.push(r);
      matedIdentity.push(id);
    }
  }
  return { identities, galleryRows, matedRows, matedIdentity: Int32Array.from(matedIdentity), nonMatedRows };
}

/**
 * One template per identity: the mean of its L2-normalised rows, L2-normalised again (InsightFace's
 * template averaging). Returns [identities, dim].
 */
export function buildTemplates(
  normed: Float32Array,
  dim: number,
  groups: readonly (readonly number[])[],
): Float32Array {
  const out = new Float32Array(groups.length * dim);
  groups.forEach((rows, g) => {
    const t = out.subarray(g * dim, (g + 1) * dim);
    for (const r of rows) for (let k = 0; k < dim; k++) t[k] += normed[r * dim + k];
    let ss = 0;
    for (let k = 0; k < dim; k++) ss += t[k] * t[k];
    if (!(ss > 0))
      throw new Error(`identification: template ${g} averages to zero (its embeddings cancel out)`);
    const inv = 1 / Math.sqrt(ss);
    for (let k = 0; k < dim; k++) t[k] *= inv;
  });
  return out;
}

/** Gather rows into a new [rows.length, dim] array. */
export function takeRows(vectors: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/**
 * Cumulative match characteristic: entry r-1 is the fraction of mated probes whose mate ranks r or
 * better.
 * @param ranks 1-based ranks of mated probes
 * @param maxRank length of the curve
 */
export function cmcCurve(ranks: ArrayLike<number>, maxRank: number): number[] {
  if (ranks.length === 0) throw new Error('CMC: no mated probes');
  const hits = new Float64Array(maxRank + 1);
  for (let i = 0; i < ranks.length; i++) {
    if (!(ranks[i] >= 1)) throw new Error(`CMC: rank ${ranks[i]} of probe ${i} is not >= 1`);
    if (ranks[i] <= maxRank) hits[ranks[i]]++;
  }
  const out: number[] = [];
  let acc = 0;
  for (let r = 1; r <= maxRank; r++) {
    acc += hits[r];
    out.push(acc / ranks.length);
  }
  return out;
}

/** DIR at one FPIR: the same record as TAR@FAR, named for identification. */
export interface DirAtFpir {
  readonly fpir: number;
  /** Needs at least 1/FPIR non-mated probes. */
  readonly reliable: boolean;
  /** Fraction of mated probes whose mate ranks first with a score >= threshold; null when unreliable. */
  readonly dir: number | null;
  readonly threshold: number | null;
  readonly achievedFpir: number | null;
  readonly note?: string;
}

/** The FPIRs reported by default. */
export const DEFAULT_FPIRS: readonly number[] = [1e-1, 1e-2, 1e-3];

/**
 * Open-set DIR at FPIR. A non-mated probe is a false positive when its best gallery score reaches
 * the threshold; a mated probe is detected and identified when its mate ranks first and reaches it.
 * The threshold is the lowest one keeping FPIR <= target, exactly as TAR@FAR.
 * @param matedRank 1-based rank per mated probe
 * @param matedScore score against the mate per mated probe
 * @param nonMatedTop best gallery score per non-mated probe
 */
export function dirAtFpir(
  matedRank: ArrayLike<number>,
  matedScore: ArrayLike<number>,
  nonMatedTop: ArrayLike<number>,
  fpirs: readonly number[] = DEFAULT_FPIRS,
): DirAtFpir[] {
  if (matedRank.length === 0 || nonMatedTop.length === 0) {
    throw new Error(
      `DIR@FPIR needs mated and non-mated probes (got ${matedRank.length} and ${nonMatedTop.length})`,
    );
  }
  // A mate that does not rank first is never identified, at any threshold: give it -Infinity.
  const identified = Float64Array.from({ length: matedRank.length }, (_, i) =>
    matedRank[i] === 1 ? matedScore[i] : -Infinity,
  );
  const curve = rocCurve(identified, nonMatedTop);
  return tarAtFar(curve, fpirs).map((t: TarAtFar) => ({
    fpir: t.far,
    reliable: t.reliable,
    dir: t.tar,
    threshold: t.threshold,
    achievedFpir: t.achievedFar,
    ...(t.note ? { note: t.note.replace('impostor pairs', 'non-mated probes') } : {}),
  }));
}

/** Every number of an identification run, JSON-ready. */
export interface IdentificationSummary {
  readonly galleryIdentities: number;
  readonly matedProbes: number;
  readonly nonMatedProbes: number;
  /** How the gallery was formed, in words. */
  readonly enrolment: string;
  /** Closed set, over mated probes: fraction whose mate ranks first, in the top 5, in the top 10. */
  readonly rank1: number;
  readonly rank5: number;
  readonly rank10: number;
  /** CMC curve, entry r-1 for rank r. */
  readonly cmc: readonly number[];
  /** Open set; absent (with a note) when there are no non-mated probes. */
  readonly dirAtFpir: readonly DirAtFpir[] | null;
  readonly note?: string;
}

/** Options for {@link identifyLabelled}. */
export interface IdentifyOptions extends SearchOptions {
  readonly enrol?: number;
  readonly holdout?: number;
  readonly seed?: number;
  /** Length of the CMC curve (default 20, at most the gallery size). */
  readonly maxRank?: number;
  readonly fpirs?: readonly number[];
}

/**
 * Closed- and open-set identification within one labelled set (see {@link splitForIdentification}).
 * @param normed L2-normalised rows, [labels.length, dim]
 */
export async function identifyLabelled(
  normed: Float32Array,
  dim: number,
  labels: readonly string[],
  opts: IdentifyOptions = {},
): Promise<IdentificationSummary> {
  const enrol = opts.enrol ?? 1;
  const split = splitForIdentification(labels, { enrol, holdout: opts.holdout, seed: opts.seed });
  const g = split.identities.length;
  if (g === 0)
    throw new Error(
      `identification: no identity has more than ${enrol} embedding(s) to both enrol and probe`,
    );
  const gallery = buildTemplates(normed, dim, split.galleryRows);
  const probeRows = [...split.matedRows, ...split.nonMatedRows];
  const mate = new Int32Array(probeRows.length).fill(-1);
  mate.set(split.matedIdentity);
  const res = await searchGallery(takeRows(normed, dim, probeRows), gallery, dim, mate, opts);
  const nm = split.matedRows.length;
  const ranks = res.rank.subarray(0, nm);
  const cmc = cmcCurve(ranks, Math.min(opts.maxRank ?? 20, g));
  const at = (r: number): number => cmc[Math.min(r, cmc.length) - 1];
  const nonMatedTop = Float32Array.from(split.nonMatedRows, (_, i) => res.topScore[(nm + i) * res.k]);
  const open = nonMatedTop.length > 0;
  return {
    galleryIdentities: g,
    matedProbes: nm,
    nonMatedProbes: nonMatedTop.length,
    enrolment:
      `first ${enrol} embedding(s) of each identity with more than ${enrol}, averaged into a template; ` +
      `identities with fewer${opts.holdout ? ` and a held-out ${opts.holdout} share (seed ${opts.seed ?? 0})` : ''} are non-mated probes`,
    rank1: at(1),
    rank5: at(5),
    rank10: at(10),
    cmc,
    dirAtFpir: open ? dirAtFpir(ranks, res.matedScore.subarray(0, nm), nonMatedTop, opts.fpirs) : null,
    ...(open ? {} : { note: 'no non-mated probes, so no open-set measures: pass a holdout fraction' }),
  };
}
