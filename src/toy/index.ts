/** The paper's 2-D experiment as a library (`arcface-ts/toy`): what `arcface toy` runs. */
export * from './run.js';
