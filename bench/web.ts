/**
 * The toy experiment's speed in Chromium (ONNX Runtime Web, WASM, threads: the page is served
 * cross-origin isolated) next to the same `runToyLive` call in Node (onnxruntime-node), one run each,
 * one after the other on the same machine: seconds per toy epoch (training step + held-out figure),
 * averaged over both methods' epochs; and ms per face (detect + align + embed, the pipeline's own stage
 * times) on LFW photos chosen one after another in the page's faces view, next to the same default
 * pipeline's `embed` in Node. The first face on each side is a warm-up (sessions' first runs) and is not
 * counted; the median of the rest is reported.
 *
 *   npm run bench:web [-- --epochs 2 --per-class 60 --faces 9]
 *
 * Needs Debian's /usr/bin/chromium (playwright-core drives it; nothing is downloaded).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { buildWebPage } from '../scripts/build-web.mjs';
import { digitPixels } from '../src/data/mnist.js';
import { createFacePipeline } from '../src/face/pipeline.js';
import { runToyLive } from '../src/web/toy-live.js';
import { writeWebPage } from '../src/web/write-page.js';
import { serveStatic } from '../test/web/static-server.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    'per-class': { type: 'string', default: '60' },
    faces: { type: 'string', default: '9' },
  },
});
const faceCount = Number(values.faces);
const LFW = join(import.meta.dirname, '../../shared/data/lfw/lfw-deepfunneled');
/** The first image of the first `n` LFW people (sorted), or none without ../shared. */
function lfwImages(n: number): string[] {
  if (!existsSync(LFW)) return [];
  return readdirSync(LFW)
    .sort()
    .slice(0, n)
    .map((person) => join(LFW, person, readdirSync(join(LFW, person)).sort()[0]));
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const epochs = Number(values.epochs);
const perClass = Number(values['per-class']);
const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`bench:web: ${CHROMIUM} not found (apt-get install chromium); skipping`);
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), 'arcface-bench-web-'));
try {
  await buildWebPage(join(dir, 'assets'));
  await writeWebPage(join(dir, 'site'), { assetsDir: join(dir, 'assets') });
  const server = await serveStatic(join(dir, 'site'));
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(3_600_000);
  await page.goto(server.url);
  await page.waitForSelector('body[data-state="ready"]');
  const threads = await page.getAttribute('body', 'data-threads');
  const images = lfwImages(faceCount);
  const browserFaceMs: number[] = [];
  if (images.length > 1) {
    await page.waitForSelector('body[data-faces="ready"], body[data-faces="failed"]');
    for (const [i, image] of images.entries()) {
      await page.setInputFiles('#photo-a', image);
      await page.waitForFunction(
        (n) => document.body.dataset.faces === 'failed' || Number(document.body.dataset.facesDone) === n,
        i + 1,
      );
      const failed = await page.textContent('#faces-error');
      if (failed) throw new Error(`the page failed on ${image}: ${failed}`);
      if (i > 0) browserFaceMs.push(Number(await page.getAttribute('body', 'data-face-ms')));
    }
  } else console.log('bench:web: ../shared/data/lfw missing: no ms/face rows');
  await page.fill('#toy-epochs', String(epochs));
  await page.fill('#toy-per-class', String(perClass));
  await page.click('#toy-run');
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]');
  const error = await page.textContent('#error');
  if (error) throw new Error(`the page failed: ${error}`);
  const browser = JSON.parse((await page.textContent('#toy-json')) ?? '{}') as { seconds: number };
  await context.close();
  await server.close();

  const nodeFaceMs: number[] = [];
  if (images.length > 1) {
    const pipeline = await createFacePipeline();
    for (const [i, image] of images.entries()) {
      const { times: t } = await pipeline.embed(image);
      if (i > 0) nodeFaceMs.push(t.detectMs + t.alignMs + t.embedMs);
    }
    await pipeline.dispose();
  }

  const t0 = performance.now();
  await runToyLive({ source: digitPixels, epochs, perClass, seed: 0, onFigure: () => undefined });
  const nodeSeconds = (performance.now() - t0) / 1000;

  const per = (s: number): string => (s / (2 * epochs)).toFixed(2);
  console.log(`toy: ${epochs} epochs per method, ${perClass} digits per class (80% trained), LeNet++`);
  console.log('| runtime | s total | s per toy epoch |');
  console.log('| --- | --- | --- |');
  console.log(
    `| Chromium, onnxruntime-web WASM, ${threads} threads | ${browser.seconds.toFixed(1)} | ${per(browser.seconds)} |`,
  );
  console.log(`| Node, onnxruntime-node | ${nodeSeconds.toFixed(1)} | ${per(nodeSeconds)} |`);
  console.log(`browser / Node: ${(browser.seconds / nodeSeconds).toFixed(2)}x`);
  if (browserFaceMs.length > 0) {
    const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
    console.log(
      `\nfaces: ${browserFaceMs.length} LFW photos after one warm-up, BlazeFace back + face-api ResNet-34 (flip)`,
    );
    console.log('| runtime | ms per face, median | range |');
    console.log('| --- | --- | --- |');
    console.log(
      `| Chromium, onnxruntime-web WASM, ${threads} threads | ${median(browserFaceMs).toFixed(0)} | ${range(browserFaceMs)} |`,
    );
    console.log(`| Node, onnxruntime-node | ${median(nodeFaceMs).toFixed(0)} | ${range(nodeFaceMs)} |`);
    console.log(`browser / Node per face: ${(median(browserFaceMs) / median(nodeFaceMs)).toFixed(2)}x`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
