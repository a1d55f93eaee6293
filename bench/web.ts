/**
 * The toy experiment's speed in Chromium (ONNX Runtime Web, WASM, threads: the page is served
 * cross-origin isolated) next to the same `runToyLive` call in Node (onnxruntime-node), one run each,
 * one after the other on the same machine: seconds per toy epoch (training step + held-out figure),
 * averaged over both methods' epochs. Faces in the page are not built yet, so there is no ms/face row.
 *
 *   npm run bench:web [-- --epochs 2 --per-class 60]
 *
 * Needs Debian's /usr/bin/chromium (playwright-core drives it; nothing is downloaded).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { buildWebPage } from '../scripts/build-web.mjs';
import { digitPixels } from '../src/data/mnist.js';
import { runToyLive } from '../src/web/toy-live.js';
import { writeWebPage } from '../src/web/write-page.js';
import { serveStatic } from '../test/web/static-server.js';

const { values } = parseArgs({
  options: { epochs: { type: 'string', default: '2' }, 'per-class': { type: 'string', default: '60' } },
});
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
  await page.fill('#toy-epochs', String(epochs));
  await page.fill('#toy-per-class', String(perClass));
  await page.click('#toy-run');
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]');
  const error = await page.textContent('#error');
  if (error) throw new Error(`the page failed: ${error}`);
  const browser = JSON.parse((await page.textContent('#toy-json')) ?? '{}') as { seconds: number };
  await context.close();
  await server.close();

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
} finally {
  await rm(dir, { recursive: true, force: true });
}
