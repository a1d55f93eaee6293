/**
 * Turn LFW into the identity-per-folder set a user would train on, with a held-out split per person and an
 * LFW-format pairs file drawn from the held-out images only (docs/TRAINING.md).
 *
 *   npx tsx scripts/lfw-identity-split.ts --lfw ../shared/data/lfw/lfw-deepfunneled --out /tmp/lfw-ids \
 *     [--min 30] [--cap 30] [--held-out 0.2] [--max-genuine 15] [--seed 0]
 *
 * People with at least --min images are kept; each person's images are shuffled by a seeded rule
 * (permutation(n, mixSeed(seed, personIndex))) and the first --cap kept; of those, the first
 * round(cap x held-out) are held out. Writes into --out:
 *   train/<Name>/<file>   symlinks to the training images (the folder set for `arcface prepare`/`train`)
 *   train-list.txt, heldout-list.txt   one <Name>/<file> per line
 *   heldout-pairs.txt     '10 P' header, then per fold P genuine and P impostor pairs (LFW format), all
 *                         held-out genuine pairs of a person up to --max-genuine, and as many impostor pairs
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mixSeed, permutation } from '../src/data/shuffle.js';
import { seededRandom } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    lfw: { type: 'string', default: '../shared/data/lfw/lfw-deepfunneled' },
    out: { type: 'string' },
    min: { type: 'string', default: '30' },
    cap: { type: 'string', default: '30' },
    'held-out': { type: 'string', default: '0.2' },
    'max-genuine': { type: 'string', default: '15' },
    seed: { type: 'string', default: '0' },
  },
});
if (!values.out) throw new Error('--out DIR is required');
const lfw = resolve(values.lfw);
const out = resolve(values.out);
const min = Number(values.min);
const cap = Number(values.cap);
const heldFraction = Number(values['held-out']);
const maxGenuine = Number(values['max-genuine']);
const seed = Number(values.seed);
const FOLDS = 10;

const people = readdirSync(lfw)
  .sort()
  .map((name) => ({
    name,
    files: readdirSync(join(lfw, name))
      .filter((f) => f.endsWith('.jpg'))
      .sort(),
  }))
  .filter((p) => p.files.length >= min);

rmSync(join(out, 'train'), { recursive: true, force: true });
mkdirSync(join(out, 'train'), { recursive: true });
const trainList: string[] = [];
const heldList: string[] = [];
/** Held-out images per person, as LFW image numbers (Name_0007.jpg -> 7). */
const held: { name: string; numbers: number[] }[] = [];
people.forEach((p, pi) => {
  const order = permutation(p.files.length, mixSeed(seed, pi));
  const kept = Array.from(order.slice(0, Math.min(cap, p.files.length)), (i) => p.files[i]);
  const nHeld = Math.round(kept.length * heldFraction);
  const h = kept.slice(0, nHeld);
  const t = kept.slice(nHeld);
  mkdirSync(join(out, 'train', p.name));
  for (const f of t) {
    symlinkSync(join(lfw, p.name, f), join(out, 'train', p.name, f));
    trainList.push(`${p.name}/${f}`);
  }
  heldList.push(...h.map((f) => `${p.name}/${f}`));
  held.push({
    name: p.name,
    numbers: h.map((f) => Number(/_(\d+)\.jpg$/.exec(f)?.[1])).sort((a, b) => a - b),
  });
});

const rand = seededRandom(mixSeed(seed, 7919));
const shuffle = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};
const genuine: string[] = [];
for (const p of held) {
  const all: string[] = [];
  for (let i = 0; i < p.numbers.length; i++)
    for (let j = i + 1; j < p.numbers.length; j++) all.push(`${p.name}\t${p.numbers[i]}\t${p.numbers[j]}`);
  genuine.push(...shuffle(all).slice(0, maxGenuine));
}
shuffle(genuine);
const seen = new Set<string>();
const impostor: string[] = [];
while (impostor.length < genuine.length) {
  const a = Math.floor(rand() * held.length);
  const b = Math.floor(rand() * held.length);
  if (a === b) continue;
  const ia = held[a].numbers[Math.floor(rand() * held[a].numbers.length)];
  const ib = held[b].numbers[Math.floor(rand() * held[b].numbers.length)];
  const line = `${held[a].name}\t${ia}\t${held[b].name}\t${ib}`;
  const key = a < b ? `${a}:${ia}:${b}:${ib}` : `${b}:${ib}:${a}:${ia}`;
  if (seen.has(key)) continue;
  seen.add(key);
  impostor.push(line);
}
const perFold = Math.floor(genuine.length / FOLDS);
const lines = [`${FOLDS}\t${perFold}`];
for (let k = 0; k < FOLDS; k++) {
  lines.push(
    ...genuine.slice(k * perFold, (k + 1) * perFold),
    ...impostor.slice(k * perFold, (k + 1) * perFold),
  );
}
writeFileSync(join(out, 'train-list.txt'), trainList.join('\n') + '\n');
writeFileSync(join(out, 'heldout-list.txt'), heldList.join('\n') + '\n');
writeFileSync(join(out, 'heldout-pairs.txt'), lines.join('\n') + '\n');
console.log(
  `${people.length} people with >= ${min} images; ${trainList.length} training images in ${join(out, 'train')}, ` +
    `${heldList.length} held out; ${FOLDS} folds x (${perFold} genuine + ${perFold} impostor) pairs in ` +
    `${join(out, 'heldout-pairs.txt')}`,
);
