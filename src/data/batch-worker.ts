/** Worker-thread entry: prepares batches (or fills the cache) on request from worker-pool.ts. */
import { parentPort, workerData } from 'node:worker_threads';
import { fillCache, prepareBatch } from './batch-prepare.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker-pool.js';

const port = parentPort;
if (!port) throw new Error('batch-worker.ts must run in a worker thread');
const init = workerData as WorkerInit;

port.on('message', (msg: WorkerRequest) => {
  void handle(msg).then(
    ({ reply, transfer }) => port.postMessage(reply, transfer),
    (err: unknown) =>
      port.postMessage({
        id: msg.id,
        error: err instanceof Error ? err.message : String(err),
      } as WorkerReply),
  );
});

async function handle(msg: WorkerRequest): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  if (msg.kind === 'batch') {
    const batch = await prepareBatch(msg.request, init.spec, init.cache);
    return {
      reply: { id: msg.id, batch },
      transfer: [batch.x.buffer as ArrayBuffer, batch.labels.buffer as ArrayBuffer],
    };
  }
  return { reply: { id: msg.id, failed: await fillCache(msg.rows, init.spec, init.cache) }, transfer: [] };
}
