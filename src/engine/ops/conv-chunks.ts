/**
 * The memory budget of the chunked convolution weight gradient (conv.ts), in its own module so tests
 * can change it without it becoming part of the engine's public exports.
 */

/**
 * Largest unfolded input (im2col) one weight-gradient MatMul may see at once, bytes. The unfold is
 * kh*kw times the size of x (and ONNX Runtime's blocked NCHWc Conv pads its kh*kw channels up to a
 * multiple of 8 or 16, then reorders it back): unchunked, IResNet-18's first 3x3 layers at batch 64
 * unfold to about 2 GB and their NCHWc copies to 3 GB, which by itself was the peak of the training
 * step. Images are therefore processed in chunks whose unfold stays under this size, and the
 * per-chunk weight gradients summed; the MatMuls stay large enough to run at full speed.
 */
let chunkBytes = 96 * 2 ** 20;

/**
 * Tests only: change the unfold chunk budget (bytes) so small shapes exercise the chunked
 * weight-gradient path; returns a function that restores the previous budget.
 */
export function setUnfoldChunkBytesForTesting(bytes: number): () => void {
  const prev = chunkBytes;
  chunkBytes = bytes;
  return () => {
    chunkBytes = prev;
  };
}

/** The current budget, bytes. */
export function unfoldChunkBytes(): number {
  return chunkBytes;
}
