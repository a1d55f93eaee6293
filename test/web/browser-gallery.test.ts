/**
 * The page served by the service itself (`arcface serve`, real inference workers, an embedded PGlite
 * gallery), in Chromium: a name and photo A enrolled through the page's gallery form (POST /v1/subjects,
 * then its faces), another photo of the same person identified as that name (POST /v1/identify), and a
 * wrong API key said plainly. Skips without Chromium or LFW (../shared); fails under CI=true without them.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebPage } from '../../scripts/build-web.mjs';
import { openEmbeddedGallery } from '../../src/gallery/embedded.js';
import { type RunningService, startService } from '../serve/service.js';
import { LFW_DIR, lfw } from '../face/data.js';

const CHROMIUM = '/usr/bin/chromium';
const ready = existsSync(CHROMIUM) && existsSync(LFW_DIR);
if (!ready && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} or ${LFW_DIR} is missing: CI must provide both for the browser tests`);
}

describe.skipIf(!ready)('the page served by arcface serve, with a gallery', () => {
  let dir: string;
  let svc: RunningService;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-web-gallery-'));
    await buildWebPage(join(dir, 'assets'));
    svc = await startService(
      {},
      { gallery: await openEmbeddedGallery(), pageAssetsDir: join(dir, 'assets') },
    );
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await context.newPage();
    page.on('console', (m) => {
      // The wrong-key request's 401 is logged by the browser as a failed resource load.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await svc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function submit(action: 'enrol' | 'identify'): Promise<Record<string, unknown>> {
    await page.evaluate(() => {
      const out = document.getElementById('gallery-json');
      if (out) out.textContent = '';
      const err = document.getElementById('faces-error');
      if (err) err.hidden = true;
    });
    await page.click(`#gallery-form button[value="${action}"]`);
    await page.waitForFunction(
      () =>
        Boolean(document.getElementById('gallery-json')?.textContent) ||
        !document.getElementById('faces-error')?.hidden,
      undefined,
      { timeout: 120_000 },
    );
    const error = await page.$eval('#faces-error', (e) => ((e as HTMLElement).hidden ? '' : e.textContent));
    if (error) return { error };
    return JSON.parse((await page.textContent('#gallery-json')) ?? '') as Record<string, unknown>;
  }

  it('enrols a name and photo, then identifies another photo of that person', async () => {
    const base = svc.url.endsWith('/') ? svc.url : `${svc.url}/`;
    await page.goto(base);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 120_000 });
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

    await page.setInputFiles('#photo-a', lfw('Abel_Pacheco', 1));
    await page.fill('#api-key', svc.keys.enrol);
    await page.fill('#enrol-name', 'Abel Pacheco');
    const enrolled = await submit('enrol');
    expect(enrolled.error).toBeUndefined();
    expect((enrolled.subject as { name: string }).name).toBe('Abel Pacheco');
    await expect(page.textContent('#gallery-result')).resolves.toMatch(/^Enrolled photo A as Abel Pacheco/);

    await page.setInputFiles('#photo-a', lfw('Abel_Pacheco', 4));
    const found = await submit('identify');
    expect(found.error).toBeUndefined();
    expect(found.known).toBe(true);
    expect((found.match as { name: string }).name).toBe('Abel Pacheco');
    await expect(page.textContent('#gallery-result')).resolves.toMatch(/^Photo A is Abel Pacheco/);

    await page.fill('#api-key', 'not-a-key');
    const refused = await submit('identify');
    expect(String(refused.error)).toMatch(/\/v1\/identify: HTTP 401/);
    expect(consoleErrors).toEqual([]);
  }, 300_000);
});
