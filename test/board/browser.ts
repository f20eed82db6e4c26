import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, scratchDir, TEST_SCRATCH_ROOT } from '../support/scratch';

/**
 * The board's browser tests: Debian's Chromium driven by playwright-core (no browser download,
 * which does not work here). `.ci/run` installs the `chromium` package when it is missing; without
 * it the browser suites skip, saying so.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots of every step: test artifacts, kept after the run (git-ignored). */
export const SCREENSHOT_DIR = path.join(TEST_SCRATCH_ROOT, 'board-screenshots');

/** Bundles the board into dist/board, as `npm run build` does (esbuild: about a second). */
export function buildBoard(): void {
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'board', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'pipe' });
}

/**
 * Launches Chromium with a fresh profile inside the checkout: Playwright puts its profile under
 * the system temp folder, so TMPDIR points into .test-tmp for the launch.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profileRoot = scratchDir('chromium-');
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = profileRoot;
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profileRoot, { recursive: true, force: true });
    },
  };
}

export async function newPage(browser: Browser, width = 1280, height = 860): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000); // a loaded 2-core machine: waits are for states, this only bounds a failure
  return { context, page };
}

let shot = 0;
/** Saves a full-page screenshot as `NN-name.png` under {@link SCREENSHOT_DIR}; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the board's form and waits for the live connection. */
export async function signInOnBoard(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-connection="live"]').waitFor();
}

/** A real PNG of `size`×`size` pixels in one colour with a darker diagonal (the server checks bytes). */
export function pngImage(size = 48, rgb: [number, number, number] = [40, 120, 220]): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const shade = Math.abs(x - y) < 3 ? 0.4 : 1;
      row[1 + x * 3] = rgb[0] * shade;
      row[2 + x * 3] = rgb[1] * shade;
      row[3 + x * 3] = rgb[2] * shade;
    }
    rows.push(row);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
