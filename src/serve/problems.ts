/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Every error class the service can answer
 * with has one stable `type` URI, so clients branch on `type`, never on the wording of `detail`; a stack trace
 * never reaches the client.
 */

/** The media type of every error response. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/**
 * Problem types: slug -> HTTP status and title. The `type` URI is `tag:arcface-ts,2026:problem/<slug>` (RFC 4151
 * tag URIs: stable, unique, and not pretending to be a web page that may not exist); docs/SERVE.md lists them.
 */
export const PROBLEM_TYPES = {
  'bad-request': { status: 400, title: 'The request is malformed' },
  'invalid-image': { status: 422, title: 'The image could not be decoded' },
  'no-face': { status: 422, title: 'No face was found in the image' },
  unauthorized: { status: 401, title: 'An API key is required' },
  forbidden: { status: 403, title: 'The API key lacks the scope this route needs' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  'name-taken': { status: 409, title: 'A subject with this name exists' },
  'duplicate-image': { status: 409, title: 'This image is already enrolled' },
  'model-mismatch': { status: 409, title: 'The gallery holds another recogniser\u2019s embeddings' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'image-too-large': { status: 413, title: 'The image declares more pixels than the limit' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  overloaded: { status: 503, title: 'The service is at capacity; retry later' },
  'shutting-down': { status: 503, title: 'The service is shutting down' },
  'not-ready': { status: 503, title: 'The service is not ready' },
  'gallery-unavailable': { status: 503, title: 'The gallery database cannot be reached' },
  // nginx's non-standard 499: never reaches the client (it has gone); it names the case in logs and metrics.
  'client-closed': { status: 499, title: 'The client closed the connection before the answer' },
  timeout: { status: 504, title: 'The request took longer than the per-request time limit' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

/** The `type` URI of a problem slug. */
export function problemType(slug: ProblemSlug): string {
  return `tag:arcface-ts,2026:problem/${slug}`;
}

/** A problem details body (RFC 9457 section 3.1), plus extension members. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

/** An error that the service answers with as problem details. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly status: number;
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    /** Extension members added to the body (e.g. `retryAfterSeconds`). */
    readonly extensions: Readonly<Record<string, unknown>> = {},
    /** Extra response headers (e.g. `Retry-After`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.status = PROBLEM_TYPES[slug].status;
  }

  /** The response body for this error; `instance` is the request path. */
  body(instance?: string): ProblemBody {
    return {
      ...this.extensions,
      type: problemType(this.slug),
      title: PROBLEM_TYPES[this.slug].title,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
    };
  }
}
