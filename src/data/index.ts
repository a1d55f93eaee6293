/** Datasets for training and evaluation: identity-per-folder images, MNIST digits, in-memory sets. */
export type { Batch, BatchOptions, Dataset } from './dataset.js';
export { MemoryDataset, type MemoryDatasetInit } from './memory.js';
export { loadMnist, mnistCounts, mnistSplit, type MnistOptions, type MnistSplit } from './mnist.js';
export { FolderDataset, IMAGE_EXTENSIONS, type FolderDatasetOptions, type SkippedFile } from './folder.js';
export type { Augmentation } from './augment.js';
export { stratifiedSplit, type SplitIndices } from './split.js';
export { epochOrder, flipMask, mixSeed, permutation } from './shuffle.js';
export type { BatchRequest, PreparedBatch, PrepareRow } from './batch-prepare.js';
