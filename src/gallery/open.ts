/** `--db` to a store: a postgres:// URL opens the server backend, anything else an embedded directory. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedGallery } from './embedded.js';
import { openServerGallery, type ServerOptions } from './server.js';
import type { GalleryStore } from './types.js';

/** Where the gallery lives when no `--db` is given: `$XDG_DATA_HOME/arcface-ts/gallery` (~/.local/share/…). */
export function defaultGalleryDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0
      ? env.XDG_DATA_HOME
      : join(homedir(), '.local', 'share');
  return join(base, 'arcface-ts', 'gallery');
}

/** True for a PostgreSQL connection string. */
export function isServerUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/**
 * Open a gallery: `postgres://…` / `postgresql://…` on a server, otherwise a directory (created if missing);
 * default {@link defaultGalleryDir}.
 */
export async function openGallery(db?: string, opts: ServerOptions = {}): Promise<GalleryStore> {
  const target = db ?? defaultGalleryDir();
  return isServerUrl(target) ? openServerGallery(target, opts) : openEmbeddedGallery(target, opts);
}
