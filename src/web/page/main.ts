/**
 * The page's script: fetches the MNIST pack, sets ONNX Runtime Web up (threads when the page is
 * cross-origin isolated), and runs the toy experiment (toy-live.ts) from the form, redrawing the
 * figure after every epoch. Everything the page shows about a failure is said in the #error alert.
 */
import * as ort from 'onnxruntime-web/wasm';
import { decodeMnistPack } from '../mnist-pack.js';
import { setUpFaces } from './faces.js';
import { type ToyLiveResult, runToyLive } from '../toy-live.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: #${id} is missing`);
  return el as T;
};

const status = $<HTMLParagraphElement>('status');
const errorBox = $<HTMLParagraphElement>('error');
const form = $<HTMLFormElement>('toy-form');
const button = $<HTMLButtonElement>('toy-run');
const progress = $<HTMLProgressElement>('toy-progress');
const figure = $<HTMLDivElement>('toy-figure');
const results = $<HTMLTableElement>('toy-results');
const json = $<HTMLOutputElement>('toy-json');

function fail(message: string): void {
  errorBox.textContent = message;
  errorBox.hidden = false;
  document.body.dataset.state = 'failed';
}

window.addEventListener('error', (e) => fail(`Something failed: ${e.message}`));
window.addEventListener('unhandledrejection', (e) =>
  fail(`Something failed: ${e.reason instanceof Error ? e.reason.message : String(e.reason)}`),
);

/** WASM threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages. */
function setUpRuntime(): string {
  ort.env.wasm.wasmPaths = new URL('./ort/', document.baseURI).href;
  ort.env.logLevel = 'error';
  if (globalThis.crossOriginIsolated) {
    ort.env.wasm.numThreads = Math.min(4, navigator.hardwareConcurrency || 1);
    return `WASM with ${ort.env.wasm.numThreads} threads`;
  }
  ort.env.wasm.numThreads = 1;
  return 'WASM threads unavailable (the page is not cross-origin isolated: serve it with COOP/COEP headers); training runs on one thread';
}

async function loadMnist(): Promise<Map<number, Float64Array>> {
  const res = await fetch('mnist-0-7.bin.gz');
  if (!res.ok || !res.body)
    throw new Error(`the MNIST digits did not load (HTTP ${res.status} for mnist-0-7.bin.gz)`);
  const unzipped = res.body.pipeThrough(new DecompressionStream('gzip'));
  return decodeMnistPack(new Uint8Array(await new Response(unzipped).arrayBuffer()));
}

/**
 * Let the browser paint and handle input. Training runs on the page's thread (ONNX Runtime Web's
 * WASM threads work under it), so it yields after each figure and at most every 100 ms of steps.
 */
let lastYield = 0;
async function yieldToBrowser(force: boolean): Promise<void> {
  if (!force && performance.now() - lastYield < 100) return;
  await new Promise<void>((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  lastYield = performance.now();
}

const fmt = (v: number | null, digits: number, unit: string): string =>
  v === null || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(digits)}${unit}`;

function showResults(r: ToyLiveResult, seconds: number): void {
  const body = results.tBodies[0];
  body.replaceChildren();
  for (const m of [r.softmax, r.arcface]) {
    const row = body.insertRow();
    const head = document.createElement('th');
    head.scope = 'row';
    head.textContent = m.label;
    row.append(head);
    for (const text of [
      fmt(100 * m.heldOutAccuracy, 1, '%'),
      fmt(m.spread.meanDeg, 1, '°'),
      fmt(m.coreGap.smallestDeg, 1, '°'),
    ]) {
      row.insertCell().textContent = text;
    }
  }
  results.hidden = false;
  json.textContent = JSON.stringify({
    seconds,
    trainSize: r.trainSize,
    heldOutSize: r.heldOutSize,
    softmax: {
      heldOutAccuracy: r.softmax.heldOutAccuracy,
      spread: r.softmax.spread.meanDeg,
      coreGap: r.softmax.coreGap.smallestDeg,
    },
    arcface: {
      heldOutAccuracy: r.arcface.heldOutAccuracy,
      spread: r.arcface.spread.meanDeg,
      coreGap: r.arcface.coreGap.smallestDeg,
    },
  });
}

async function main(): Promise<void> {
  const runtime = setUpRuntime();
  document.body.dataset.threads = String(ort.env.wasm.numThreads);
  setUpFaces(runtime, ort.env.wasm.numThreads ?? 1);
  button.disabled = true;
  status.textContent = `Loading the MNIST digits… (${runtime})`;
  const digits = await loadMnist();
  const source = (d: number): Float64Array => {
    const p = digits.get(d);
    if (!p) throw new Error(`the MNIST pack has no digit ${d}`);
    return p;
  };
  status.textContent = `Ready. ${runtime}.`;
  button.disabled = false;
  document.body.dataset.state = 'ready';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const epochs = Number(data.get('epochs'));
    const perClass = Number(data.get('perClass'));
    const seed = Number(data.get('seed'));
    button.disabled = true;
    errorBox.hidden = true;
    results.hidden = true;
    document.body.dataset.state = 'running';
    document.body.dataset.figures = '0';
    const started = performance.now();
    let figures = 0;
    runToyLive({
      source,
      epochs,
      perClass,
      seed,
      onProgress: async (p) => {
        if (p.kind !== 'step') return;
        const done = (p.method === 'arcface' ? p.totalSteps : 0) + p.step;
        progress.value = done / (2 * p.totalSteps);
        status.textContent = `Training ${p.method} (epoch ${p.epoch} of ${p.epochs}, ${p.phase} loss ${p.loss.toFixed(3)})`;
        await yieldToBrowser(false);
      },
      onFigure: async (svg) => {
        // The SVG is the page's own drawing (toy/figure.ts escapes every text it holds).
        figure.innerHTML = svg;
        document.body.dataset.figures = String(++figures);
        await yieldToBrowser(true);
      },
    })
      .then((r) => {
        figure.innerHTML = r.figureSvg;
        const seconds = (performance.now() - started) / 1000;
        showResults(r, seconds);
        status.textContent = `Done in ${seconds.toFixed(1)} s (${runtime}).`;
        document.body.dataset.state = 'done';
      })
      .catch((err: unknown) => fail(`Training failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        button.disabled = false;
      });
  });
}

main().catch((err: unknown) =>
  fail(`The page could not start: ${err instanceof Error ? err.message : String(err)}`),
);
