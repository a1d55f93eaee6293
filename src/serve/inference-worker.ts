/**
 * One inference worker thread: its own face pipeline (its own ONNX Runtime sessions), one request at a time.
 * Started by inference-pool.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createFacePipeline } from '../face/pipeline.js';
import { ImageError } from '../face/image.js';
import { recognizerId } from '../gallery/enrol.js';
import { parseDetectorSpec, parseRecognizerSpec } from '../face/zoo.js';
import type {
  InferenceRequest,
  InferenceResult,
  WorkerError,
  WorkerMessage,
  WorkerPipelineOptions,
} from './inference-protocol.js';

function toWorkerError(err: unknown): WorkerError {
  if (err instanceof ImageError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('inference-worker must run in a worker thread');
  const post = (msg: WorkerMessage): void => port.postMessage(msg);
  const opts = workerData as WorkerPipelineOptions;
  let pipeline;
  try {
    pipeline = await createFacePipeline({
      ...(opts.detector ? { detector: parseDetectorSpec(opts.detector) } : {}),
      ...(opts.recognizer ? { recognizer: parseRecognizerSpec(opts.recognizer) } : {}),
      threads: opts.threads,
      decode: { maxPixels: opts.maxPixels },
      ...(opts.minFaceSize !== undefined ? { detection: { minFaceSize: opts.minFaceSize } } : {}),
      // A service must not enrol or match a whole photo as if it were a face.
      fallback: false,
    });
  } catch (err) {
    post({ kind: 'fatal', error: toWorkerError(err) });
    return;
  }
  const rec = pipeline.recognizer;
  if (!rec) throw new Error('inference worker: the pipeline has no recogniser');
  post({
    kind: 'ready',
    models: {
      detector: pipeline.detector.spec,
      recognizer: rec.spec,
      galleryId: await recognizerId(rec),
      dim: rec.dim,
      threshold: rec.threshold ?? null,
      calibration: rec.calibration ?? null,
    },
  });
  const face = pipeline;
  port.on('message', (req: InferenceRequest) => {
    const run = async (): Promise<InferenceResult> =>
      req.op === 'detect'
        ? { op: 'detect', detection: await face.detect(req.image) }
        : { op: 'embed', embedding: await face.embed(req.image) };
    run().then(
      (result) => post({ kind: 'result', id: req.id, result }),
      (err: unknown) => post({ kind: 'error', id: req.id, error: toWorkerError(err) }),
    );
  });
}

void main();
