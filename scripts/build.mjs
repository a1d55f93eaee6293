#!/usr/bin/env node
/**
 * Builds the package: empties dist/ (so no file of a deleted or renamed source survives into the
 * tarball), then compiles src/ with tsconfig.build.json to dist/ (JavaScript + .d.ts), then bundles
 * the web page into dist/web-page/ (scripts/build-web.mjs).
 *
 *   node scripts/build.mjs                  always build (npm run build, prepack)
 *   node scripts/build.mjs --unless-packing build unless npm is packing or publishing (prepare)
 *
 * npm runs both prepack and prepare on `npm pack` / `npm publish`; prepare alone on `npm install`
 * in a clone and on git installs. --unless-packing keeps a pack to one build.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import console from 'node:console';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');
if (process.argv.includes('--unless-packing') && packing) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error('build: typescript is not installed (it is a devDependency: run `npm install` first)');
  process.exit(1);
}
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
// The web page's bundle and WASM files (dist/web-page/), so `arcface web` needs no esbuild at run time.
const { buildWebPage } = await import('./build-web.mjs');
await buildWebPage(fileURLToPath(new URL('../dist/web-page', import.meta.url)));
