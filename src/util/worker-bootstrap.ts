/** Starting a worker thread from whatever the caller runs as: TypeScript sources (tsx, vitest) or dist/. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * Code for `new Worker(code, { eval: true })` that loads the worker module `name` beside `callerUrl`.
 * @param callerUrl the caller's `import.meta.url`: a `.ts` URL means sources, so the worker gets `name.ts`
 *   with tsx registered first (a worker does not inherit the parent's loader); otherwise `name.js`
 * @param name the worker module's file name without extension, e.g. `batch-worker`
 */
export function workerBootstrap(callerUrl: string, name: string): string {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl).href;
  if (!fromSource) return `import(${JSON.stringify(entry)});`;
  return `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** tsx's ESM API (its CommonJS build cannot register the ESM loader from a worker). */
function tsxApiUrl(): string {
  // vitest's module runner may leave import.meta.resolve undefined; the require path is then mapped.
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
}
