/**
 * Builds the web page's static assets into a folder (npm run build puts them in dist/web-page/, which
 * `arcface web --out DIR` copies): index.html and page.css from src/web/page/, page.js bundled by
 * esbuild from the same src/ the package compiles, and ONNX Runtime Web's WASM files under ort/.
 *
 * The bundle differs from the Node build in three places only: 'onnxruntime-node' resolves to
 * src/web/ort-web.ts (onnxruntime-web with the one function it lacks), the face pipeline's pixel
 * operations (src/face/image-ops.ts, sharp) to src/face/image-ops-portable.ts, and Node built-ins and
 * Node-only packages resolve to stubs whose members come from src/web/node-shims.ts or throw a clear
 * error when called (the page never takes those paths: it writes no files and spawns no workers).
 *
 *   node scripts/build-web.mjs [OUT]     (default OUT: dist/web-page)
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** Packages that exist only for Node paths the page never runs (image decoding, databases, the CLI). */
const NODE_ONLY = [
  'sharp',
  'pg',
  '@electric-sql/pglite',
  '@electric-sql/pglite-pgvector',
  'cli-progress',
  'commander',
];

const nodeStubs = {
  name: 'node-stubs',
  setup(build) {
    const filter = new RegExp(
      `^(node:.*|${NODE_ONLY.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})(/.*)?$`,
    );
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'node-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      resolveDir: root,
      loader: 'js',
      // CommonJS, so any member name may be imported. Members the shims define are real; others
      // throw when called, naming the module. The proxy is the prototype so that esbuild's ESM
      // interop (which copies own properties) still finds every member through it.
      contents: `
        const shims = require(${JSON.stringify(join(root, 'src/web/node-shims.ts'))});
        const unavailable = (name) => {
          const f = function () {
            throw new Error(${JSON.stringify(args.path)} + '.' + name + ' is not available in the browser');
          };
          return f;
        };
        const members = new Proxy({}, {
          get(_t, name) {
            if (typeof name !== 'string' || name === '__esModule' || name === 'then') return undefined;
            return Object.prototype.hasOwnProperty.call(shims, name) ? shims[name] : unavailable(name);
          },
        });
        module.exports = Object.create(members);
      `,
    }));
  },
};

/**
 * The face pipeline's one platform module: src/face/image-ops.ts (sharp) becomes
 * src/face/image-ops-portable.ts (plain TypeScript, the same exports).
 */
const portableImageOps = {
  name: 'portable-image-ops',
  setup(build) {
    build.onResolve({ filter: /^\.\/image-ops\.js$/ }, (args) =>
      resolve(args.resolveDir) === join(root, 'src/face')
        ? { path: join(root, 'src/face/image-ops-portable.ts') }
        : undefined,
    );
  },
};

/** Build the page into `out` (emptied first). */
export async function buildWebPage(out) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'ort'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(root, 'src/web/page/main.ts')],
    outfile: join(out, 'page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    alias: { 'onnxruntime-node': join(root, 'src/web/ort-web.ts') },
    // ONNX Runtime Web loads its WASM glue at run time from env.wasm.wasmPaths (ort/).
    external: ['*.wasm'],
    plugins: [portableImageOps, nodeStubs],
  });
  for (const file of ['index.html', 'page.css'])
    copyFileSync(join(root, 'src/web/page', file), join(out, file));
  const ortDist = dirname(require.resolve('onnxruntime-web/wasm'));
  for (const file of readdirSync(ortDist)) {
    if (/^ort-wasm-simd-threaded\.(wasm|mjs)$/.test(file))
      copyFileSync(join(ortDist, file), join(out, 'ort', file));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildWebPage(resolve(process.argv[2] ?? join(root, 'dist/web-page')));
}
