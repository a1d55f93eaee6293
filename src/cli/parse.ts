/** Option-value parsers shared by the sub-commands: each throws commander's InvalidArgumentError with the accepted range. */
import { InvalidArgumentError } from 'commander';

/** An integer >= `min`. */
export const integer =
  (min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };

/** Any finite number. */
export const finite = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

/**
 * A number between `lo` and `hi`; `bounds` says which ends are included, in interval notation
 * (`'[)'`: lo included, hi excluded). `hi` may be Infinity.
 */
export const numberIn =
  (lo: number, hi: number, bounds: '[]' | '[)' | '(]' | '()') =>
  (v: string): number => {
    const n = Number(v);
    const aboveLo = bounds[0] === '[' ? n >= lo : n > lo;
    const belowHi = bounds[1] === ']' ? n <= hi : n < hi;
    if (!(Number.isFinite(n) && aboveLo && belowHi)) {
      const range =
        hi === Infinity
          ? bounds[0] === '['
            ? `>= ${lo}`
            : `> ${lo}`
          : `in ${bounds[0]}${lo}, ${hi}${bounds[1]}`;
      throw new InvalidArgumentError(`expected a number ${range}`);
    }
    return n;
  };
