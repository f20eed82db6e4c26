import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import './route-config';

/** Options of {@link securityHeaders}. */
export interface SecurityHeadersOptions {
  /** PUBLIC_URL is https: browsers are told to keep to https (HSTS). */
  readonly https: boolean;
  /** Apollo's landing page is on: its HTML page gets no `default-src 'none'` CSP (it loads scripts). */
  readonly landingPage: boolean;
}

/** Every response is an API answer (JSON or an image): nothing in it may run, be framed or leak. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The headers every response carries, including errors and refusals answered before a route runs.
 * No helmet: the API serves no HTML, so a handful of fixed headers says everything.
 *
 * - `x-content-type-options: nosniff`, `content-security-policy: default-src 'none'; frame-ancestors
 *   'none'`, `x-frame-options: DENY`: a response opened in a browser is never run or framed.
 * - `referrer-policy: no-referrer`: image URLs are capabilities; they must not leak onward.
 * - `cross-origin-resource-policy: same-origin`, unless the route declares otherwise (images,
 *   which clients embed from wherever they are served, declare `cross-origin`).
 * - `cache-control: no-store` unless the route chose (images are immutable and cached).
 * - `strict-transport-security` only when PUBLIC_URL is https (never over plain http).
 *
 * A header the route set itself (the images' `default-src 'none'; sandbox` CSP) is kept, and a
 * route's `config.securityHeaders` replace the defaults on every answer it gives, errors included.
 */
export function baseSecurityHeaders(options: Pick<SecurityHeadersOptions, 'https'>): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': API_CSP,
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
    ...(options.https ? { 'strict-transport-security': HSTS } : {}),
  };
}

/** Registers the onSend hook that sets {@link baseSecurityHeaders} on every reply. Call before routes. */
export function securityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): void {
  const headers = Object.entries(baseSecurityHeaders(options));
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const declared = request.routeOptions.config?.securityHeaders;
    const isLandingPage = options.landingPage && String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    for (const [name, value] of headers) {
      if (reply.hasHeader(name)) continue;
      if (name === 'content-security-policy' && isLandingPage) continue;
      reply.header(name, declared?.[name] ?? value);
    }
    return payload;
  });
}
