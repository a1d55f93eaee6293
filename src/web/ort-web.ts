/**
 * The platform seam of the browser bundle: the engine imports 'onnxruntime-node' (engine/session.ts),
 * and scripts/build-web.mjs aliases that import to this module, so the same session code runs on
 * onnxruntime-web (WASM) in the page. Only what onnxruntime-node has and onnxruntime-web lacks is
 * written here.
 */
export * from 'onnxruntime-web/wasm';

/** onnxruntime-node's list of execution providers; the page runs on WASM, which ONNX Runtime Web names 'cpu' too. */
export function listSupportedBackends(): { name: string; bundled: boolean }[] {
  return [{ name: 'cpu', bundled: true }];
}
