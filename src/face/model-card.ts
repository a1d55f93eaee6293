/**
 * Model cards: what `arcface calibrate` measured for a user's ONNX recogniser (its SHA-256, input
 * normalisation, flip, threshold and the FAR/TAR it gave, on which pairs), stored as JSON next to the model
 * (`<model>.onnx.card.json`) so that loading `onnx:<model>.onnx` picks up the threshold without `--threshold`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { VerifyCalibration } from './models.js';
import type { PixelNormalization } from './tensor-input.js';

/** The `format` field of every card this project writes; a card with another is refused. */
export const MODEL_CARD_FORMAT = 'arcface-ts/model-card/1';

/** How the card's input normalisation was decided. */
export interface NormalizationChoice {
  readonly how: 'given' | 'searched';
  /** With 'searched': each candidate's AUC and best accuracy on the search pairs, best first. */
  readonly candidates?: readonly {
    readonly name: string;
    readonly normalization: PixelNormalization;
    readonly auc: number;
    readonly accuracy: number;
    readonly separation: number;
  }[];
  /** With 'searched': how many pairs the candidates were compared on. */
  readonly pairs?: number;
}

/** A threshold and what it gave on the calibration pairs. */
export interface CardThreshold {
  /** Cosine similarity at or above which two faces are called the same. */
  readonly threshold: number;
  /** False accept rate at `threshold` on the impostor pairs, in [0, 1]. */
  readonly far: number;
  /** True accept rate at `threshold` on the genuine pairs, in [0, 1]. */
  readonly tar: number;
}

/** A calibrated recogniser's card, as written to JSON. */
export interface ModelCard {
  readonly format: typeof MODEL_CARD_FORMAT;
  readonly model: {
    /** File name when calibrated (informative: the hash is what binds the card). */
    readonly file: string;
    /** SHA-256 of the model file, hex. */
    readonly sha256: string;
    /** Embedding length. */
    readonly dim: number;
    /** Crop size, pixels. */
    readonly inputSize: { readonly width: number; readonly height: number };
    /** Alignment: the five ArcFace template points at the crop size (left eye, right eye, nose, mouth corners). */
    readonly template: string;
  };
  readonly normalization: PixelNormalization & { readonly chosen: NormalizationChoice };
  /** Whether embeddings sum the crop's and its mirror image's outputs (the threshold depends on it). */
  readonly flip: boolean;
  /** The threshold `verify` and `identify` use: the loosest one whose FAR on the pairs is <= `targetFar`. */
  readonly threshold: number;
  readonly targetFar: number;
  readonly atTargetFar: CardThreshold;
  /** The mean of the folds' best-accuracy thresholds, and the k-fold accuracy (mean and std) of the run. */
  readonly bestAccuracy: CardThreshold & {
    readonly accuracy: number;
    readonly accuracyStd: number;
    readonly folds: number;
  };
  readonly auc: number;
  /** What it was measured on. */
  readonly data: {
    readonly pairs: string;
    readonly images: string;
    readonly genuinePairs: number;
    readonly impostorPairs: number;
    readonly detector: string;
    /** Images that could not be embedded (their pairs were left out), and faceless images embedded whole. */
    readonly failedImages: number;
    readonly wholeImages: number;
  };
  readonly createdAt: string;
  readonly tool: { readonly name: 'arcface calibrate'; readonly version: string };
}

/** Thrown when a card is unreadable, malformed, or made for another model file. */
export class ModelCardError extends Error {
  override readonly name = 'ModelCardError';
}

/** SHA-256 of a file, hex. */
export async function fileSha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Where the loader looks for a model's card: `<model path>.card.json`. */
export function cardPathFor(modelPath: string): string {
  return `${modelPath}.card.json`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Read and check a card: its format, the fields the loader uses, and that it was made for the file
 * whose SHA-256 is `sha256`.
 * @throws {ModelCardError} naming the card and what is wrong
 */
export async function readModelCard(cardPath: string, sha256: string): Promise<ModelCard> {
  let card: Partial<ModelCard>;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as Partial<ModelCard>;
  } catch (err) {
    throw new ModelCardError(
      `model card ${cardPath}: cannot read it (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (card.format !== MODEL_CARD_FORMAT) {
    throw new ModelCardError(
      `model card ${cardPath}: format ${JSON.stringify(card.format)}, expected ${MODEL_CARD_FORMAT}`,
    );
  }
  const n = card.normalization;
  const t = card.atTargetFar;
  if (
    !isNum(card.threshold) ||
    !n ||
    !isNum(n.mean) ||
    !isNum(n.std) ||
    n.std === 0 ||
    (n.order !== 'rgb' && n.order !== 'bgr') ||
    typeof card.flip !== 'boolean' ||
    !t ||
    !isNum(t.far) ||
    !isNum(t.tar) ||
    typeof card.model?.sha256 !== 'string'
  ) {
    throw new ModelCardError(
      `model card ${cardPath}: missing or malformed threshold, normalization, flip, atTargetFar or model.sha256`,
    );
  }
  if (card.model.sha256 !== sha256) {
    throw new ModelCardError(
      `model card ${cardPath} was calibrated for another model (SHA-256 ${card.model.sha256.slice(0, 12)}..., ` +
        `this file is ${sha256.slice(0, 12)}...): run \`arcface calibrate\` again or remove the card`,
    );
  }
  return card as ModelCard;
}

/** A card as the threshold facts a recogniser carries (what `verify` prints about its threshold). */
export function cardCalibration(card: ModelCard, cardPath: string): VerifyCalibration {
  return {
    threshold: card.threshold,
    far: card.atTargetFar.far,
    tar: card.atTargetFar.tar,
    accuracy: card.bestAccuracy.accuracy,
    measured:
      `model card ${cardPath}: \`arcface calibrate\` at target FAR ${card.targetFar} on ` +
      `${card.data.genuinePairs + card.data.impostorPairs} pairs of ${card.data.pairs}, ` +
      `detector ${card.data.detector}, flip ${card.flip ? 'on' : 'off'}`,
  };
}

/** The normalisation candidates `calibrate` tries on an unknown model, by name. */
export const NORMALIZATION_CANDIDATES: Readonly<Record<string, PixelNormalization>> = {
  'rgb-127.5': { mean: 127.5, std: 127.5, order: 'rgb' },
  'rgb-128': { mean: 127.5, std: 128, order: 'rgb' },
  'rgb-01': { mean: 0, std: 255, order: 'rgb' },
  'bgr-127.5': { mean: 127.5, std: 127.5, order: 'bgr' },
  'bgr-128': { mean: 127.5, std: 128, order: 'bgr' },
  'bgr-01': { mean: 0, std: 255, order: 'bgr' },
};

/** A normalisation by candidate name. @throws listing the names for an unknown one */
export function normalizationByName(name: string): PixelNormalization {
  if (!Object.hasOwn(NORMALIZATION_CANDIDATES, name)) {
    throw new Error(
      `unknown normalization '${name}' (known: ${Object.keys(NORMALIZATION_CANDIDATES).join(', ')})`,
    );
  }
  return NORMALIZATION_CANDIDATES[name];
}
