/**
 * The npm-shipped recognisers (imported from TF.js by src/import) as {@link FaceRecognizer}s: specs
 * `human:faceres`, `human:mobileface`, `human:mobilefacenet`, `faceapi:resnet34`. Each carries its own crop
 * size, pixel scaling and alignment template; the pipeline should align to `template`, not to ArcFace's.
 */
import type { Session } from '../engine/session.js';
import type { OnnxRecognizerOptions } from './embed-onnx.js';
import { type CropRow, embedCrops } from './flip-embed.js';
import { loadImportedRecognizer } from './imported-graphs.js';
import type { ImportedRecognizerModel } from './models.js';
import { openFaceSession } from './onnx-model.js';
import { writeChw } from './tensor-input.js';
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
  const imported = await loadImportedRecognizer(name);
  return importedFaceRecognizer(
    imported.model,
    (batch) => openFaceSession(imported.onnx(batch), opts, `${name} (batch ${batch})`),
    opts,
  );
}

/**
 * An npm-shipped recogniser over sessions of its imported graph (input 'image', output 'embedding'),
 * opened on first use per batch size by `openSession`: the web page opens them from the .onnx files that
 * `arcface web` wrote, {@link loadImportedFaceRecognizer} from graphs built in memory.
 */
export function importedFaceRecognizer(
  model: ImportedRecognizerModel,
  openSession: (batch: number) => Promise<Session>,
  opts: Omit<OnnxRecognizerOptions, 'threads'> = {},
): TemplatedFaceRecognizer {
  const name = model.spec;
  const { inputSize: size, dim, normalization: norm } = model;
  const maxBatch = Math.max(1, opts.batchSize ?? 16);
  const flip = opts.flip ?? model.flip;
  const sessions = new Map<number, Promise<Session>>();
  let disposed: Promise<void> | null = null;
  const session = (batch: number): Promise<Session> => {
    let s = sessions.get(batch);
    if (!s) {
      s = openSession(batch);
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
      if (disposed) throw new Error(`${name}: the recogniser was disposed`);
      const s = await session(batch);
      const res = await s.run({ image: { data, dims: [batch, 3, size, size] } });
      const emb = res.embedding.data as Float32Array;
      for (let i = 0; i < chunk.length; i++) out.push(emb.slice(i * dim, (i + 1) * dim));
    }
    return out;
  }

  const [t0, t1, t2, t3, t4] = model.template;
  return {
    spec: name,
    dim,
    inputSize: { width: size, height: size },
    template: [t0, t1, t2, t3, t4],
    threshold: opts.threshold ?? model.calibration?.threshold,
    calibration: opts.threshold === undefined ? model.calibration : undefined,
    flip,
    description: model.description,
    embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
      return embedCrops(crops, flip, dim, name, runRows);
    },
    dispose(): Promise<void> {
      disposed ??= (async () => {
        const all = await Promise.allSettled(sessions.values());
        await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.dispose() : undefined)));
        sessions.clear();
      })();
      return disposed;
    },
  };
}
