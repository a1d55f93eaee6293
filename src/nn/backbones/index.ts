/** Backbones by name, so a checkpoint's config can rebuild the exact architecture. */
import { sizeOf } from '../../engine/index.js';
import type { Module } from '../module.js';
import { Mlp } from './mlp.js';
import { SmallCnn } from './small-cnn.js';
import { LeNetPlus } from './lenet-plus.js';
import { MobileFaceNet } from './mobilefacenet.js';
import { IResNet } from './iresnet.js';

/** A backbone and its options, JSON-serialisable (stored in checkpoints). */
export type BackboneSpec =
  | {
      readonly name: 'mlp';
      readonly embeddingDim: number;
      readonly hidden?: readonly number[];
      readonly dropout?: number;
    }
  | {
      readonly name: 'small-cnn';
      readonly embeddingDim: number;
      readonly channels?: readonly [number, number, number];
      readonly batchNorm?: boolean;
    }
  | {
      readonly name: 'lenet++';
      readonly embeddingDim: number;
      readonly channels?: readonly [number, number, number];
      readonly convsPerStage?: number;
      readonly kernel?: number;
      readonly batchNorm?: boolean;
    }
  | {
      readonly name: 'mobilefacenet';
      readonly embeddingDim: number;
      readonly scale?: number;
      readonly blocks?: readonly [number, number, number, number];
    }
  | { readonly name: 'iresnet18' | 'iresnet50'; readonly embeddingDim: number; readonly dropout?: number };

export type BackboneName = BackboneSpec['name'];

export const BACKBONES: readonly BackboneName[] = [
  'mlp',
  'small-cnn',
  'lenet++',
  'mobilefacenet',
  'iresnet18',
  'iresnet50',
];

/**
 * Build a backbone for samples of `sampleShape` (CHW or [D]); it maps [N, ...sampleShape] to [N, D].
 */
export function createBackbone(spec: BackboneSpec, sampleShape: readonly number[]): Module {
  switch (spec.name) {
    case 'mlp':
      return new Mlp(sizeOf(sampleShape), spec);
    case 'small-cnn':
      return new SmallCnn(sampleShape, spec);
    case 'lenet++':
      return new LeNetPlus(sampleShape, spec);
    case 'mobilefacenet':
      return new MobileFaceNet(sampleShape, spec);
    case 'iresnet18':
      return new IResNet(sampleShape, { ...spec, layers: [2, 2, 2, 2] });
    case 'iresnet50':
      return new IResNet(sampleShape, { ...spec, layers: [3, 4, 14, 3] });
    default:
      throw new Error(
        `unknown backbone '${(spec as { name: string }).name}' (known: ${BACKBONES.join(', ')})`,
      );
  }
}
