/**
 * Verification protocols: a list of labelled pairs (LFW's pairs.txt, with its k-fold accuracy) and
 * all pairs within a labelled set (ROC measures only). Both report AUC, EER and TAR at FAR.
 */
import { EvalInputError } from './errors.js';
import { type KFoldResult, kFoldVerification, stratifiedFolds } from './kfold.js';
import {
  DEFAULT_FARS,
  type Eer,
  type RocCurve,
  type ScoreStats,
  type TarAtFar,
  auc,
  eer,
  rocCurve,
  scoreStats,
  tarAtFar,
} from './roc.js';

/** Every number of a verification run, JSON-ready. */
export interface VerificationSummary {
  /** 'pairs': a given list of pairs; 'all-pairs': every pair within a labelled set. */
  readonly protocol: 'pairs' | 'all-pairs';
  readonly genuinePairs: number;
  readonly impostorPairs: number;
  readonly scores: { readonly genuine: ScoreStats; readonly impostor: ScoreStats };
  /** The k-fold accuracy protocol (pairs lists only). */
  readonly kfold?: KFoldResult & { readonly k: number; readonly foldsFrom: 'pairs file' | 'stratified' };
  /** Why a pairs list got no k-fold result (too few pairs of a kind for the folds). */
  readonly kfoldNote?: string;
  readonly auc: number;
  readonly eer: Eer;
  readonly tarAtFar: readonly TarAtFar[];
}

/** A summary plus what the plots need. */
export interface VerificationOutcome {
  readonly summary: VerificationSummary;
  readonly roc: RocCurve;
  readonly genuine: Float32Array;
  readonly impostor: Float32Array;
}

/** Verification measures nothing without both kinds of pair: AUC, EER and accuracy would be empty numbers. */
function checkBothKinds(genuine: number, impostor: number, what: string): void {
  if (genuine === 0 || impostor === 0) {
    throw new EvalInputError(
      what,
      `${genuine} genuine and ${impostor} impostor pairs: verification needs both kinds` +
        (impostor === 0 && what === 'all-pairs verification' ? ' (the set holds a single identity)' : ''),
    );
  }
}

function rocMeasures(genuine: Float32Array, impostor: Float32Array, fars: readonly number[]) {
  const roc = rocCurve(genuine, impostor);
  return {
    roc,
    auc: auc(roc),
    eer: eer(roc),
    tarAtFar: tarAtFar(roc, fars),
    scores: { genuine: scoreStats(genuine), impostor: scoreStats(impostor) },
  };
}

/**
 * Verify a list of pairs.
 * @param scores cosine similarity per pair
 * @param same 1 for a genuine pair, 0 for an impostor pair
 * @param folds fold id per pair from the pairs file, or null to cut `k` stratified folds in file order
 * @throws {EvalInputError} without genuine or without impostor pairs, or with a fold holding only one kind
 */
export function verifyPairs(
  scores: Float32Array,
  same: Uint8Array,
  folds: Int32Array | null,
  opts: { readonly k?: number; readonly fars?: readonly number[] } = {},
): VerificationOutcome {
  const genuine = scores.filter((_, i) => same[i] === 1);
  const impostor = scores.filter((_, i) => same[i] !== 1);
  checkBothKinds(genuine.length, impostor.length, 'pairs verification');
  const m = rocMeasures(genuine, impostor, opts.fars ?? DEFAULT_FARS);
  const k = opts.k ?? 10;
  const foldCount = folds ? new Set(folds).size : Math.min(genuine.length, impostor.length) >= k ? k : 0;
  const kf = foldCount >= 2 ? kFoldVerification(scores, same, folds ?? stratifiedFolds(same, k)) : null;
  return {
    summary: {
      protocol: 'pairs',
      genuinePairs: genuine.length,
      impostorPairs: impostor.length,
      scores: m.scores,
      ...(kf
        ? { kfold: { ...kf, k: kf.folds.length, foldsFrom: folds ? 'pairs file' : 'stratified' } }
        : {
            kfoldNote: `no k-fold accuracy: ${genuine.length} genuine and ${impostor.length} impostor pairs cannot fill ${k} folds`,
          }),
      auc: m.auc,
      eer: m.eer,
      tarAtFar: m.tarAtFar,
    },
    roc: m.roc,
    genuine,
    impostor,
  };
}

/** Verify every pair within a labelled set, from its already-split scores. */
export function verifyAllPairs(
  genuine: Float32Array,
  impostor: Float32Array,
  opts: { readonly fars?: readonly number[] } = {},
): VerificationOutcome {
  checkBothKinds(genuine.length, impostor.length, 'all-pairs verification');
  const m = rocMeasures(genuine, impostor, opts.fars ?? DEFAULT_FARS);
  return {
    summary: {
      protocol: 'all-pairs',
      genuinePairs: genuine.length,
      impostorPairs: impostor.length,
      scores: m.scores,
      auc: m.auc,
      eer: m.eer,
      tarAtFar: m.tarAtFar,
    },
    roc: m.roc,
    genuine,
    impostor,
  };
}
