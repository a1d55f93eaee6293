/**
 * The npm-shipped recognisers (imported from TF.js by src/import) as {@link FaceRecognizer}s: specs
 * `human:faceres`, `human:mobileface`, `human:mobilefacenet`, `faceapi:resnet34`. Each carries its own crop
 * size, pixel scaling and alignment template; the pipeline should align to `template`, not to ArcFace's.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { type ImportedRecognizer, loadImportedRecognizer } from '../import/zoo.js';
import type { OnnxRecognizerOptions } from './embed-onnx.js';
import { knownImportedRecognizer } from './known-models.js';
import { writeChw } from './tensor-input.js';
import { type CropRow, embedCrops } from './flip-embed.js';
import type { FaceRecognizer, Landmarks5, RgbImage } from './types.js';

/** A recogniser that says where the five landmarks must land in its crop. */
export interface TemplatedFaceRecognizer extends FaceRecognizer {
  /** Alignment target for {@link Landmarks5}, in crop pixels (`inputSize` square). */
  readonly template: Landmarks5;
}

/**
 * Load an npm-shipped recogniser. Graphs have static shapes, so sessions are built per batch size on first
 * use: full chunks of `batchSize` rows and the last chunk padded to a power of two.
 * @param name `human:faceres`, `human:mobileface`, `human:mobilefacenet` or `faceapi:resnet34`
 */
export async function loadImportedFaceRecognizer(
  name: string,
  opts: OnnxRecognizerOptions = {},
): Promise<TemplatedFaceRecognizer> {
  const model: ImportedRecognizer = await loadImportedRecognizer(name);
  const size = model.inputSize;
  const maxBatch = Math.max(1, opts.batchSize ?? 16);
  const known = knownImportedRecognizer(model.name);
  const flip = opts.flip ?? known.flip;
  const norm = { mean: model.scaling.mean, std: model.scaling.std, order: 'rgb' as const };
  const sessions = new Map<number, Promise<ort.InferenceSession>>();
  const session = (batch: number): Promise<ort.InferenceSession> => {
    let s = sessions.get(batch);
    if (!s) {
      s = ort.InferenceSession.create(model.onnx(batch), {
        intraOpNumThreads: opts.threads ?? availableParallelism(),
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionProviders: ['cpu'],
        // The pipeline runs two sessions in turn (detector, then recogniser): with spinning on, each one's idle
        // threads spin on the cores the other needs. Measured on 2 cores: bench/face.ts, docs/MODELS.md.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      sessions.set(batch, s);
    }
    return s;
  };

  async function runRows(rows: readonly CropRow[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < rows.length; start += maxBatch) {
      const chunk = rows.slice(start, start + maxBatch);
      const batch =
        chunk.length === maxBatch ? maxBatch : Math.min(maxBatch, 2 ** Math.ceil(Math.log2(chunk.length)));
      const data = new Float32Array(batch * 3 * size * size);
      chunk.forEach(({ crop, flip: mirrored }, i) => {
        if (crop.width !== size || crop.height !== size) {
          throw new Error(`${name}: crop is ${crop.width}x${crop.height}, the model takes ${size}x${size}`);
        }
        writeChw(crop, norm, data, i, mirrored);
      });
      const s = await session(batch);
      const res = await s.run({ [model.inputName]: new ort.Tensor('float32', data, [batch, 3, size, size]) });
      const emb = res[model.outputName].data as Float32Array;
      for (let i = 0; i < chunk.length; i++) out.push(emb.slice(i * model.dim, (i + 1) * model.dim));
    }
    return out;
  }

  const [t0, t1, t2, t3, t4] = model.template;
  return {
    spec: name,
    dim: model.dim,
    inputSize: { width: size, height: size },
    template: [t0, t1, t2, t3, t4],
    threshold: opts.threshold ?? known.calibration?.threshold,
    calibration: opts.threshold === undefined ? known.calibration : undefined,
    flip,
    description: model.description,
    embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
      return embedCrops(crops, flip, model.dim, name, runRows);
    },
    async dispose() {
      const all = await Promise.allSettled(sessions.values());
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
      sessions.clear();
    },
  };
}
