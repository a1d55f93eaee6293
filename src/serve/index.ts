/** The HTTP service as a library: build the Fastify app yourself (`arcface serve` is this plus a port). */
export {
  createServer,
  DEFAULT_BODY_LIMIT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SERVE_MAX_PIXELS,
  type ArcfaceServer,
  type ServerOptions,
} from './server.js';
export { KeyFile, KeyStoreError, SCOPES, parseScopes, type KeyRecord, type Scope } from './keys.js';
export {
  PROBLEM_MEDIA_TYPE,
  PROBLEM_TYPES,
  problemType,
  type ProblemBody,
  type ProblemSlug,
} from './problems.js';
