/** Deterministic, stratified train / held-out splits. */
import { Stream, mixSeed, permutation } from './shuffle.js';

/** Sample indices of the two sides of a split, each in ascending order. */
export interface SplitIndices {
  readonly train: Int32Array;
  readonly heldOut: Int32Array;
}

/**
 * Split sample indices class by class: each class gives round(fraction * its size) samples (at
 * least one when it has two or more) to the held-out side, chosen by a permutation seeded by
 * (seed, class), so adding a class never reshuffles the others.
 * @param labels class of every sample
 * @param heldOutFraction share of each class held out, in [0, 1)
 */
export function stratifiedSplit(labels: Int32Array, heldOutFraction: number, seed: number): SplitIndices {
  if (!(heldOutFraction >= 0 && heldOutFraction < 1)) {
    throw new Error(`split: heldOutFraction must be in [0, 1), got ${heldOutFraction}`);
  }
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const list = byClass.get(l) ?? [];
    list.push(i);
    byClass.set(l, list);
  });
  const held = new Uint8Array(labels.length);
  for (const [cls, members] of byClass) {
    let k = Math.round(heldOutFraction * members.length);
    if (heldOutFraction > 0 && k === 0 && members.length > 1) k = 1;
    const order = permutation(members.length, mixSeed(seed, cls, Stream.split));
    for (let j = 0; j < k; j++) held[members[order[j]]] = 1;
  }
  const train: number[] = [];
  const heldOut: number[] = [];
  held.forEach((h, i) => (h ? heldOut : train).push(i));
  return { train: Int32Array.from(train), heldOut: Int32Array.from(heldOut) };
}
