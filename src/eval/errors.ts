/** The typed error of evaluation inputs (embeddings files, pair lists, fold layouts) that give no honest number. */

/**
 * An evaluation input that cannot be used as it is: the message names the input (`source`, a file name or a
 * description) and what is wrong with it. Pairs files with line-numbered problems throw
 * {@link LineIssuesError} (src/eval/pairs.ts) instead.
 */
export class EvalInputError extends Error {
  override readonly name = 'EvalInputError';
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}
