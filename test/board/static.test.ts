import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { boardCsp, DEFAULT_BOARD_DIR } from '../../src/http/board.routes';
import { startServer, type TestServer } from '../support/server';
import { buildBoard } from './browser';

/**
 * The board's files as the server serves them (no browser needed): types, caching, the CSP that
 * lets the page run with no inline script, and the JavaScript budget of issue 13.
 */
const JS_BUDGET_GZIP_BYTES = 120 * 1024;

describe('the board as static files', () => {
  let server: TestServer;
  beforeAll(async () => {
    buildBoard();
    server = await startServer('embedded', { bare: true });
  }, 60_000);
  afterAll(async () => server?.close());

  const manifest = () => JSON.parse(readFileSync(path.join(DEFAULT_BOARD_DIR, 'manifest.json'), 'utf8')) as { js: string; css: string };

  it('keeps the JavaScript within 120 KB gzipped', () => {
    const js = readFileSync(path.join(DEFAULT_BOARD_DIR, manifest().js));
    const gzipped = gzipSync(js, { level: 9 }).length;
    console.log(`board bundle: ${js.length} bytes, ${gzipped} bytes gzipped (budget ${JS_BUDGET_GZIP_BYTES})`);
    expect(gzipped).toBeLessThanOrEqual(JS_BUDGET_GZIP_BYTES);
  });

  it('serves the page at / with a CSP that allows only its own script, style, server and images', async () => {
    const response = await fetch(`${server.url}/`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const csp = response.headers.get('content-security-policy')!;
    const host = new URL(server.url).host;
    expect(csp).toBe(boardCsp(host, server.url, false));
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${host}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    // No inline script or style: everything the page runs is a file of its own.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    expect(html).toContain(`src="/board/${manifest().js}"`);
  });

  it('serves the bundle by content hash, cached for a year, with the right types', async () => {
    const { js, css } = manifest();
    for (const [file, type] of [
      [js, 'text/javascript; charset=utf-8'],
      [css, 'text/css; charset=utf-8'],
    ]) {
      const response = await fetch(`${server.url}/board/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await response.arrayBuffer()).byteLength).toBe(readFileSync(path.join(DEFAULT_BOARD_DIR, file)).length);
    }
  });

  it('serves nothing else from the board folder', async () => {
    for (const file of ['manifest.json', 'index.html', '..%2Fmain.js', 'app.js', '%2e%2e%2fpackage.json']) {
      const response = await fetch(`${server.url}/board/${file}`);
      expect(response.status).toBe(404);
      await response.arrayBuffer();
    }
  });
});
