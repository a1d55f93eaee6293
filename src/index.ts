/**
 * arcface-ts, the library (`import { face } from 'arcface-ts'`): one namespace per room (see
 * docs/ARCHITECTURE.md). Import a room by its own entry point (`arcface-ts/face`, `arcface-ts/train`,
 * ...) to keep start-up light, or everything from here. ESM only; from CommonJS use
 * `await import('arcface-ts/face')`.
 */
export * as engine from './engine/index.js';
export * as heads from './heads/index.js';
export * as nn from './nn/index.js';
export * as train from './train/index.js';
export * as data from './data/index.js';
export * as evaluation from './eval/index.js';
export * as face from './face/index.js';
export * as importer from './import/index.js';
export * as toy from './toy/index.js';
export * as gallery from './gallery/index.js';
