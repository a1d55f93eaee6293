/**
 * The package as a user gets it: `npm pack` (which builds dist/), the tarball installed into a fresh
 * project, then used the ways a consumer uses it — the `arcface` bin, a plain ESM import, a strict
 * TypeScript build against the shipped .d.ts — and compared with the in-repo CLI run from sources.
 *
 * The install needs the npm registry or a filled npm cache (`--prefer-offline` reuses the cache that
 * `npm ci` filled). The LFW comparisons skip with a message without ../shared; the rest always run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LFW_DIR, lfw } from '../face/data.js';
import { type PackageSurface, tarballProblems } from './tarball-check.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEV_BIN = join(REPO, 'bin', 'arcface-dev.mjs');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
/** A matched pair of pairs.txt (Akhmed_Zakayev 1 3): the same person in both images. */
const PAIR = [lfw('Akhmed_Zakayev', 1), lfw('Akhmed_Zakayev', 3)] as const;
/** LFW in ../shared, for the comparisons with the in-repo CLI; says why they skip without it. */
function haveLfw(): boolean {
  const ok = existsSync(LFW_DIR);
  if (!ok) console.warn(`consumer LFW comparisons skipped: ${LFW_DIR} missing; see ../shared/data/README.md`);
  return ok;
}
const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Environment for a child npm / node: without the npm_* variables `npm test` sets (they would point
 * the child at this repository's package.json and prefix), but keeping the cache, registry and
 * proxy settings so the install reuses what the outer npm was configured with.
 */
function childEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|registry|userconfig|globalconfig|.*proxy|strict_ssl|cafile)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    if (k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return env;
}

function sh(cmd: string, args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env: childEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Fail with the command, its exit code and its output tail, so a CI log says what broke. */
function ok(what: string, r: Run): Run {
  if (r.code !== 0) {
    const tail = (s: string): string => s.split('\n').slice(-40).join('\n');
    throw new Error(
      `${what} exited with ${r.code}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`,
    );
  }
  return r;
}

async function listFiles(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, root)));
    else out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}

interface VerifyJson {
  readonly similarity: number;
  readonly threshold: number;
  readonly same: boolean;
}

const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as PackageSurface;

let root: string;
let consumer: string;
let installed: string;
let packed: { size: number; unpackedSize: number; entryCount: number; filename: string };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-consumer-'));
  const packDir = join(root, 'pack');
  await mkdir(packDir);
  // npm pack runs prepack (clean dist/, compile src/): the tarball is built once, here.
  const pack = ok(
    'npm pack',
    await sh('npm', ['pack', '--json', '--pack-destination', packDir], REPO, 480_000),
  );
  // Lifecycle output precedes the JSON on stdout.
  const json = pack.stdout.slice(pack.stdout.search(/^\[/m));
  [packed] = JSON.parse(json) as (typeof packed)[];
  const tarball = join(packDir, packed.filename);

  consumer = join(root, 'consumer');
  await mkdir(consumer);
  await writeFile(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'arcface-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2),
  );
  // The one line a consumer needs: onnxruntime-node's install script must not fetch CUDA binaries.
  await writeFile(join(consumer, '.npmrc'), 'onnxruntime-node-install=skip\n');
  const typesNode = JSON.parse(
    await readFile(join(REPO, 'node_modules', '@types', 'node', 'package.json'), 'utf8'),
  ) as { version: string };
  ok(
    'npm install <tarball> in the consumer project',
    await sh(
      'npm',
      ['install', tarball, `@types/node@${typesNode.version}`, ...INSTALL_FLAGS],
      consumer,
      480_000,
    ),
  );
  installed = join(consumer, 'node_modules', 'arcface-ts');
}, 900_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('carries every file exports and bin point at, and no sources, tests or benches', async () => {
    const files = new Set(await listFiles(installed));
    const problems = tarballProblems(pkg, files);
    expect(problems, problems.join('\n')).toEqual([]);
    expect(packed.entryCount).toBe(files.size);
  });

  it('resolves and loads every entry point with plain node', async () => {
    const specs = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'arcface-ts' : `arcface-ts/${k.slice(2)}`));
    // One process imports each entry and reports, per specifier, 'ok' or why it failed.
    const script = `
      const out = {};
      for (const spec of ${JSON.stringify(specs)}) {
        try {
          const m = await import(spec);
          out[spec] = Object.keys(m).length > 0 ? 'ok' : 'no exports';
        } catch (err) {
          out[spec] = String(err && err.message ? err.message : err).split('\\n')[0];
        }
      }
      console.log(JSON.stringify(out));`;
    const r = ok(
      'node import of every entry',
      await sh(process.execPath, ['--input-type=module', '-e', script], consumer),
    );
    const result = JSON.parse(r.stdout) as Record<string, string>;
    const failed = Object.entries(result)
      .filter(([, v]) => v !== 'ok')
      .map(([spec, why]) => `import('${spec}') failed: ${why}`);
    expect(failed, failed.join('\n')).toEqual([]);
    expect(Object.keys(result).sort()).toEqual([...specs].sort());

    // Only the entry points are public: deep paths into dist/ or the old src/ paths do not resolve.
    const deep = `
      const out = [];
      for (const spec of ['arcface-ts/dist/face/index.js', 'arcface-ts/src/face/index.js', 'arcface-ts/cli']) {
        try { await import(spec); out.push(spec + ' resolved'); }
        catch (err) { if (err.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') out.push(spec + ': ' + err.code); }
      }
      console.log(JSON.stringify(out));`;
    const d = ok(
      'node import of deep paths',
      await sh(process.execPath, ['--input-type=module', '-e', deep], consumer),
    );
    expect(JSON.parse(d.stdout)).toEqual([]);

    // ESM only: CommonJS code reaches it through a dynamic import, as the README says.
    await writeFile(
      join(consumer, 'from-commonjs.cjs'),
      "import('arcface-ts/face').then((m) => console.log(typeof m.createFacePipeline));\n",
    );
    const c = ok('node from-commonjs.cjs', await sh(process.execPath, ['from-commonjs.cjs'], consumer));
    expect(c.stdout.trim()).toBe('function');
  });

  it('runs `npx arcface --help` with plain node (tsx is not installed)', async () => {
    expect(existsSync(join(consumer, 'node_modules', 'tsx')), 'tsx was installed into the consumer').toBe(
      false,
    );
    const r = ok('npx arcface --help', await sh('npx', ['arcface', '--help'], consumer));
    expect(r.stdout).toMatch(/^Usage: arcface /);
    for (const command of ['detect', 'embed', 'verify', 'eval', 'train', 'toy']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
  });

  it('starts the data room worker threads from the compiled JavaScript', async () => {
    // Two identities of face-api's sample photos (shipped in its npm package) as a tiny folder dataset.
    const photos = join(consumer, 'node_modules', '@vladmandic', 'face-api', 'demo');
    const data = join(root, 'folder');
    for (const [who, files] of [
      ['a', ['sample1.jpg', 'sample2.jpg']],
      ['b', ['sample3.jpg', 'sample4.jpg']],
    ] as const) {
      await mkdir(join(data, who), { recursive: true });
      for (const f of files) await copyFile(join(photos, f), join(data, who, f));
    }
    const script = `
      import { FolderDataset } from 'arcface-ts/data';
      const ds = await FolderDataset.open(${JSON.stringify(data)}, { size: 32, workers: 2, cache: false });
      let rows = 0, finite = true, length = 0;
      for await (const b of ds.batches({ batchSize: 4, seed: 0, epoch: 0 })) {
        rows += b.count; length += b.x.length; finite &&= b.x.every(Number.isFinite);
      }
      console.log(JSON.stringify({ workers: ds.usesWorkers, classes: ds.numClasses, rows, length, finite }));
      await ds.close();`;
    const r = ok(
      'folder dataset with workers',
      await sh(process.execPath, ['--input-type=module', '-e', script], consumer),
    );
    expect(JSON.parse(r.stdout)).toEqual({
      workers: true,
      classes: 2,
      rows: 4,
      length: 4 * 3 * 32 * 32,
      finite: true,
    });
  });

  it('type-checks a strict NodeNext TypeScript consumer against the shipped .d.ts', async () => {
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          // TypeScript's default: the shipped .d.ts are checked themselves, as in a consumer's build.
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['use.ts'],
      }),
    );
    await writeFile(join(consumer, 'use.ts'), TS_CONSUMER);
    const r = await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer);
    expect(r.code, `tsc in the consumer project failed:\n${r.stdout}${r.stderr}`).toBe(0);
  }, 300_000);
});

describe.runIf(haveLfw())('the installed package on an LFW pair, against the in-repo CLI', () => {
  let reference: VerifyJson;
  beforeAll(async () => {
    for (const p of PAIR) await stat(p);
    const r = await sh(process.execPath, [DEV_BIN, 'verify', ...PAIR, '--json'], REPO);
    expect(r.code, `in-repo arcface verify: ${r.stderr}`).toBe(0);
    reference = JSON.parse(r.stdout) as VerifyJson;
    expect(reference.same).toBe(true);
  }, 300_000);

  it('npx arcface verify gives the same decision and similarity', async () => {
    const r = await sh('npx', ['--no', 'arcface', 'verify', ...PAIR, '--json'], consumer);
    expect(r.code, `npx arcface verify: ${r.stderr}`).toBe(0);
    const got = JSON.parse(r.stdout) as VerifyJson;
    expect(got.same).toBe(reference.same);
    expect(got.threshold).toBe(reference.threshold);
    expect(got.similarity).toBeCloseTo(reference.similarity, 6);
  }, 300_000);

  it("a plain ESM script importing 'arcface-ts/face' gives the same result", async () => {
    await writeFile(
      join(consumer, 'verify.mjs'),
      `import { createFacePipeline } from 'arcface-ts/face';
const faces = await createFacePipeline();
const v = await faces.verify(process.argv[2], process.argv[3]);
await faces.dispose();
console.log(JSON.stringify(v));
`,
    );
    const r = ok('node verify.mjs', await sh(process.execPath, ['verify.mjs', ...PAIR], consumer));
    const got = JSON.parse(r.stdout) as VerifyJson;
    expect(got.same).toBe(reference.same);
    expect(got.threshold).toBe(reference.threshold);
    expect(got.similarity).toBeCloseTo(reference.similarity, 6);
  }, 300_000);
});

/** A consumer's code: several entry points, used with their real types; compiled, never run. */
const TS_CONSUMER = `import { createFacePipeline, type FacePipeline, type Verification } from 'arcface-ts/face';
import { presets } from 'arcface-ts/heads';
import * as E from 'arcface-ts/engine';
import { type TrainConfig, checkConfig } from 'arcface-ts/train';
import { rocCurve } from 'arcface-ts/eval';
import { type Dataset, mnistSplit } from 'arcface-ts/data';
import { face, engine } from 'arcface-ts';

export async function verify(a: string, b: string): Promise<boolean> {
  const faces: FacePipeline = await createFacePipeline();
  const v: Verification = await faces.verify(a, b);
  await faces.dispose();
  return v.same && v.similarity >= v.threshold;
}

export const config: TrainConfig = {
  backbone: { name: 'small-cnn', embeddingDim: 16 },
  head: presets.arcface({ s: 30, m2: 0.5 }),
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine', lr: 0.1, warmupSteps: 10 },
  epochs: 2,
  batchSize: 64,
  seed: 0,
};
export const check: (c: TrainConfig) => void = checkConfig;

export function gradient(): E.Tensor {
  const x = E.input('x', [2, 3]);
  const w = E.input('w', [3, 4]);
  const [dw] = E.grad(E.reduceSum(E.relu(E.matmul(x, w))), [w]);
  return dw;
}

export const roc: typeof rocCurve = rocCurve;
export const digits: Dataset = mnistSplit({ heldOutFraction: 0.2, seed: 0 }).train;
export const sameFunction: boolean = face.createFacePipeline === createFacePipeline && engine.grad === E.grad;

// The declarations are real types, not any: these misuses must be errors.
// @ts-expect-error a pipeline is not a number
export const wrong: number = await createFacePipeline();
// @ts-expect-error epochs is a number
export const incomplete: TrainConfig = { ...config, epochs: 'two' };
`;
