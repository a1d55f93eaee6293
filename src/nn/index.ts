/**
 * Neural-network modules: named parameters and buffers, seeded initialisation, layers and
 * backbones that build engine graphs.
 */
export {
  Module,
  Scope,
  type Mode,
  type ParamDecl,
  type BufferDecl,
  type ForwardOptions,
  type ForwardResult,
  type MaskSpec,
} from './module.js';
export { ParamStore, type StoredTensor } from './store.js';
export { type Init, initValues, streamSeed } from './init.js';
export { Linear, type LinearOptions } from './layers/linear.js';
export { ReLU, Flatten, Identity } from './layers/basic.js';
export { Sequential } from './layers/sequential.js';
export { Conv2d, type Conv2dLayerOptions } from './layers/conv.js';
export { BatchNorm, type BatchNormOptions } from './layers/batchnorm.js';
export { PReLU } from './layers/prelu.js';
export { MaxPool2d, AvgPool2d, GlobalAvgPool } from './layers/pool.js';
export { Dropout } from './layers/dropout.js';
export { SmallCnn, type SmallCnnOptions } from './backbones/small-cnn.js';
export { MobileFaceNet, type MobileFaceNetOptions } from './backbones/mobilefacenet.js';
export { IResNet, type IResNetOptions } from './backbones/iresnet.js';
export { Mlp, type MlpOptions } from './backbones/mlp.js';
export { createBackbone, BACKBONES, type BackboneSpec, type BackboneName } from './backbones/index.js';
