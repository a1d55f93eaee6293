/**
 * What a training set holds per class, checked before the first step: a set with one usable class
 * trains to loss 0 and accuracy 1 while learning nothing, and a class whose files all failed to
 * decode leaves a centre no sample ever pulls on.
 */
import type { Dataset } from '../data/dataset.js';

/** A file a dataset left out (see FolderDataset.skipped). */
export interface SkippedSample {
  readonly path: string;
  readonly reason: string;
}

/** Per-class sample counts and what the dataset left out. */
export interface ClassReport {
  /** Samples per class, by class index. */
  readonly counts: readonly number[];
  readonly classNames: readonly string[];
  /** Names of classes with no usable sample (e.g. every file corrupt). */
  readonly empty: readonly string[];
  /** Classes with at least one sample. */
  readonly usable: number;
  /** Files the dataset left out so far, when it keeps such a list (FolderDataset does). */
  readonly skipped: readonly SkippedSample[];
}

/** A training set that cannot train a classifier (fewer than two usable classes). */
export class DatasetError extends Error {
  constructor(
    message: string,
    readonly report: ClassReport,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Count the samples of each class and list empty classes and skipped files. */
export function classReport(dataset: Dataset): ClassReport {
  const counts = new Array<number>(dataset.numClasses).fill(0);
  for (const l of dataset.labels) if (l >= 0 && l < counts.length) counts[l]++;
  const names = dataset.classNames;
  const empty = counts.flatMap((c, i) => (c === 0 ? [names[i] ?? `#${i}`] : []));
  const listed = (dataset as { skipped?: unknown }).skipped;
  const skipped = Array.isArray(listed) ? (listed as SkippedSample[]) : [];
  return {
    counts,
    classNames: names,
    empty,
    usable: counts.length - empty.length,
    skipped: [...skipped],
  };
}

/**
 * Throw a DatasetError when a set cannot train: a margin or softmax head needs at least two classes
 * with samples.
 */
export function checkTrainable(report: ClassReport): void {
  if (report.usable >= 2) return;
  const what =
    report.usable === 1
      ? `only one class with samples ('${report.classNames[report.counts.findIndex((c) => c > 0)]}')`
      : 'no class with samples';
  const empty = report.empty.length
    ? `; classes without a usable sample: ${report.empty.slice(0, 10).join(', ')}` +
      (report.empty.length > 10 ? ` and ${report.empty.length - 10} more` : '')
    : '';
  const skipped = report.skipped.length ? `; ${report.skipped.length} files were skipped` : '';
  throw new DatasetError(
    `train: the training set has ${what}: a classifier needs at least two${empty}${skipped}`,
    report,
  );
}
