/** The gallery's typed error: every expected failure (bad input, missing subject, locked store) has a code. */

/** Why a gallery operation failed. */
export type GalleryErrorCode =
  /** A subject (by id or name) or a face id that the gallery does not hold. */
  | 'not-found'
  /** A subject name that is already taken. */
  | 'name-taken'
  /** An image whose content hash is already enrolled. */
  | 'duplicate-image'
  /** An embedding from another recogniser than the gallery's. */
  | 'model-mismatch'
  /** An embedding of the wrong length, or not finite, or not unit length. */
  | 'bad-embedding'
  /** The database was created by a newer arcface-ts (its schema version is above ours). */
  | 'schema-newer'
  /** The embedded database directory is open in another process. */
  | 'locked'
  /** An image with no usable face when the caller asked for faces only. */
  | 'no-face'
  /** Malformed input: a bad name, metadata that is not an object, a bad export line, a bad --db value. */
  | 'bad-input'
  /** The database could not be reached or opened. */
  | 'unavailable';

/** An expected gallery failure; `message` is meant for the user as is (the CLI prints it without a stack). */
export class GalleryError extends Error {
  override readonly name = 'GalleryError';
  constructor(
    readonly code: GalleryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
