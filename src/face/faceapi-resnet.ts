/**
 * face-api.js's face descriptor (FaceRecognitionNet): a dlib-style ResNet-34 variant, 150 x 150 RGB in,
 * 128-d out. face-api ships only a weights manifest (no graph), so the architecture is written here with
 * engine ops, following face-api's source (faceRecognitionNet/: FaceRecognitionNet.ts, residualLayer.ts,
 * convLayer.ts, scaleLayer.ts), and the weights are loaded by name.
 */
import { readFile } from 'node:fs/promises';
import {
  type Tensor,
  add,
  avgPool2d,
  constant,
  conv2d,
  div,
  gemm,
  maxPool2d,
  mul,
  pad,
  reduceMean,
  relu,
  sub,
} from '../engine/index.js';
import { permuteHost } from '../import/tf-ops/layout.js';
import type { TfWeightGroup } from '../import/tfjs-format.js';
import { type HostTensor, readWeights } from '../import/tfjs-weights.js';

/** The crop size the network takes. */
export const FACEAPI_INPUT_SIZE = 150;
/** Per-channel RGB means face-api subtracts before dividing by 255. */
export const FACEAPI_MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** The decoded weights of face_recognition_model, by face-api's parameter paths. */
export type FaceApiWeights = ReadonlyMap<string, HostTensor>;

/** Read face-api's face_recognition_model weights manifest and shards. */
export async function loadFaceApiWeights(manifestPath: string): Promise<FaceApiWeights> {
  let groups: unknown;
  try {
    groups = JSON.parse(await readFile(manifestPath, 'utf8')) as unknown;
  } catch (err) {
    throw new Error(
      `cannot read face-api manifest ${manifestPath}: ${err instanceof Error ? err.message : err}`,
      {
        cause: err,
      },
    );
  }
  if (!Array.isArray(groups))
    throw new Error(`${manifestPath}: expected a weights manifest (a list of groups)`);
  return readWeights(manifestPath, groups as TfWeightGroup[]);
}

class Builder {
  constructor(private readonly weights: FaceApiWeights) {}

  private host(name: string): HostTensor {
    const w = this.weights.get(name);
    if (!w) throw new Error(`face-api ResNet-34: weight '${name}' is missing from the manifest`);
    return w;
  }

  private vector(name: string): Tensor {
    const w = this.host(name);
    return constant(w.data, [1, w.data.length, 1, 1], 'float32');
  }

  /** conv (HWIO filters, 'same' or 'valid') + bias, then the per-channel scale layer, then maybe ReLU. */
  convLayer(x: Tensor, prefix: string, stride: 1 | 2, withRelu: boolean, valid: boolean): Tensor {
    const f = this.host(`${prefix}/conv/filters`);
    const [kh, kw] = f.shape;
    const w = permuteHost(f, [3, 2, 0, 1]);
    const filter = constant(w.data, w.shape, 'float32');
    // face-api's 'same' convs here are all stride 1 with odd kernels: symmetric padding.
    const pads: [number, number] = valid ? [0, 0] : [(kh - 1) / 2, (kw - 1) / 2];
    let out = conv2d(x, filter, { strides: stride, pads });
    out = add(out, this.vector(`${prefix}/conv/bias`));
    out = add(mul(out, this.vector(`${prefix}/scale/weights`)), this.vector(`${prefix}/scale/biases`));
    return withRelu ? relu(out) : out;
  }

  residual(x: Tensor, prefix: string): Tensor {
    let out = this.convLayer(x, `${prefix}/conv1`, 1, true, false);
    out = this.convLayer(out, `${prefix}/conv2`, 1, false, false);
    return relu(add(out, x));
  }

  /**
   * The down-sampling block: the shortcut is a 2 x 2 average pool with the channels doubled by zeros; when
   * the strided conv comes out one pixel smaller than the pool, face-api pads it with zeros at the bottom
   * and right.
   */
  residualDown(x: Tensor, prefix: string): Tensor {
    let out = this.convLayer(x, `${prefix}/conv1`, 2, true, true);
    out = this.convLayer(out, `${prefix}/conv2`, 1, false, false);
    let pooled = avgPool2d(x, { kernel: 2, strides: 2 });
    const dh = pooled.shape[2] - out.shape[2];
    const dw = pooled.shape[3] - out.shape[3];
    if (dh !== 0 || dw !== 0) out = pad(out, [0, 0, 0, 0], [0, 0, dh, dw]);
    const extra = out.shape[1] - pooled.shape[1];
    if (extra > 0) pooled = pad(pooled, [0, 0, 0, 0], [0, extra, 0, 0]);
    return relu(add(pooled, out));
  }
}

/**
 * The face-api ResNet-34 descriptor as an engine graph.
 * @param image RGB pixels 0..255, NCHW [N, 3, 150, 150]
 * @returns [N, 128] descriptors (not normalised; face-api compares them by Euclidean distance)
 */
export function faceApiResNet34(weights: FaceApiWeights, image: Tensor): Tensor {
  if (image.rank !== 4 || image.shape[1] !== 3)
    throw new Error(`face-api ResNet-34: expected NCHW RGB, got ${image}`);
  const b = new Builder(weights);
  const mean = constant(FACEAPI_MEAN_RGB, [1, 3, 1, 1], 'float32');
  let out = div(sub(image, mean), 255);
  out = b.convLayer(out, 'conv32_down', 2, true, true);
  out = maxPool2d(out, { kernel: 3, strides: 2 });
  for (const name of ['conv32_1', 'conv32_2', 'conv32_3']) out = b.residual(out, name);
  out = b.residualDown(out, 'conv64_down');
  for (const name of ['conv64_1', 'conv64_2', 'conv64_3']) out = b.residual(out, name);
  out = b.residualDown(out, 'conv128_down');
  for (const name of ['conv128_1', 'conv128_2']) out = b.residual(out, name);
  out = b.residualDown(out, 'conv256_down');
  for (const name of ['conv256_1', 'conv256_2']) out = b.residual(out, name);
  out = b.residualDown(out, 'conv256_down_out');
  const pooled = reduceMean(out, [2, 3]);
  const fc = weights.get('fc');
  if (!fc) throw new Error("face-api ResNet-34: weight 'fc' is missing from the manifest");
  return gemm(pooled, constant(fc.data, fc.shape, 'float32'));
}
