/**
 * One sharp call at a time in this thread. libvips's warnings go into one process-wide queue that
 * whichever sharp call finishes next empties, so overlapping calls report each other's warnings: a damaged
 * JPEG's "Corrupt JPEG data" was seen attached to the healthy image decoded beside it, and a resize
 * finishing first would swallow it. Decoding and resizing take a few milliseconds next to detection and
 * embedding, so running them in order costs little. Worker threads share the same native queue; the pools
 * there handle one image per worker at a time and report no warnings.
 */
let chain: Promise<unknown> = Promise.resolve();

/** Runs `call` after every sharp call queued before it has settled; resolves or rejects as `call` does. */
export function oneSharpCallAtATime<T>(call: () => Promise<T>): Promise<T> {
  const result = chain.then(call, call);
  chain = result.catch(() => undefined);
  return result;
}
