import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The live board (issue 13): the browser dashboard under `board/`, bundled by `board/build.mjs`
 * into `dist/board` at build time and served here as static files. It uses only the public API
 * (POST /graphql, graphql-ws on /graphql, POST /uploads), so this file serves files and nothing else.
 *
 * - `GET /`: index.html, `cache-control: no-cache` (it names the current bundle) and a CSP that lets
 *   the page run its own script and style and talk to this server only: no inline script or
 *   style, no other origin, no framing.
 * - `GET /board/<name>-<hash>.js|.css`: the bundle, named by content hash, cached for a year
 *   (`immutable`). Only the names of the current build are served.
 */
export interface BoardRoutesOptions {
  /** Base of absolute image URLs (PUBLIC_URL or the listening URL): the page shows images from there. */
  publicUrl: () => string;
  /** Where the built board is; default dist/board of this checkout. */
  dir?: string;
}

/** dist/board of this checkout, from src/http (tests) and dist/http (the built server) alike. */
export const DEFAULT_BOARD_DIR = path.resolve(__dirname, '..', '..', 'dist', 'board');

interface Manifest {
  js: string;
  css: string;
}

const ASSET = /^[A-Za-z0-9_-]{1,100}\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** The page's CSP: its own files, images from this server (and PUBLIC_URL), WebSocket to this host. */
export function boardCsp(host: string | undefined, publicUrl: string, https: boolean): string {
  const origins = new Set<string>();
  try {
    if (publicUrl) origins.add(new URL(publicUrl).origin);
  } catch {
    // an unusable PUBLIC_URL adds nothing
  }
  // The socket's origin, spelled out: not every browser counts ws: under 'self'.
  const sockets = host && /^[A-Za-z0-9.:[\]-]{1,300}$/.test(host) ? [`${https ? 'wss' : 'ws'}://${host}`] : [];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' blob: ${[...origins].join(' ')}`.trim(),
    `connect-src 'self' ${sockets.join(' ')}`.trim(),
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function boardRoutes(app: FastifyInstance, options: BoardRoutesOptions): Promise<void> {
  const dir = options.dir ?? DEFAULT_BOARD_DIR;
  const manifest = async (): Promise<Manifest | undefined> => {
    try {
      return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      return undefined;
    }
  };
  const notBuilt = (reply: FastifyReply) =>
    reply
      .status(503)
      .header('content-type', 'text/plain; charset=utf-8')
      .send('The board is not built: run `npm run build` (it bundles board/ into dist/board).\n');

  app.get('/', async (request: FastifyRequest, reply: FastifyReply) => {
    const built = await manifest();
    if (!built) return notBuilt(reply);
    const html = await readFile(path.join(dir, 'index.html'));
    const https = (request.protocol ?? 'http') === 'https' || options.publicUrl().startsWith('https:');
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', boardCsp(request.headers.host, options.publicUrl(), https))
      .send(html);
  });

  app.get<{ Params: { file: string } }>('/board/:file', async (request, reply) => {
    const { file } = request.params;
    const built = await manifest();
    if (!built) return notBuilt(reply);
    if (!ASSET.test(file) || (file !== built.js && file !== built.css)) {
      return reply.status(404).send({ code: 404, message: 'No such file of the board' });
    }
    const body = await readFile(path.join(dir, file));
    return reply.header('content-type', TYPES[path.extname(file).slice(1)]).header('cache-control', 'public, max-age=31536000, immutable').send(body);
  });
}
