/**
 * Evaluation the way the field does it: LFW-style k-fold verification, ROC / AUC / EER, TAR at FAR,
 * closed-set (rank-k, CMC) and open-set (DIR at FPIR) identification, plots and JSON reports.
 * Scores are cosine similarities of L2-normalised embeddings, computed by the engine.
 */
export * from './errors.js';
export * from './embeddings-io.js';
export * from './pairs.js';
export * from './pair-embeddings.js';
export * from './roc.js';
export * from './kfold.js';
export * from './similarity.js';
export * from './search.js';
export * from './identification.js';
export * from './verification.js';
export * from './plots.js';
export * from './report.js';
export * from './run.js';
