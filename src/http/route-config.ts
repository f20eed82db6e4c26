import type { FastifyInstance } from 'fastify';
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_TICKET } from '../modules/image/image.limits';

/**
 * What a route declares about itself (Fastify's per-route `config`), read by the guards every
 * request passes: no guard names a route's URL.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route takes large bodies (images inline or as files): a throttled address is refused
     * before its body is read (http/auth-before-body.ts).
     */
    largeBody?: boolean;
    /**
     * The route's credential is the Authorization header, verified before the body is read; a
     * request without one may send at most a small body (http/auth-before-body.ts).
     */
    credentialInHeader?: boolean;
    /** Security headers this route answers with instead of the defaults (http/security-headers.ts). */
    securityHeaders?: Readonly<Record<string, string>>;
  }
}

/**
 * JSON bodies may carry up to 10 inline images of 10 MiB, base64-encoded (4/3 larger), plus
 * text: anything beyond is refused with 413 before it is parsed. A route that takes inline
 * images declares it as its `bodyLimit`.
 */
export const MAX_JSON_BODY_BYTES = Math.ceil((MAX_IMAGES_PER_TICKET * MAX_IMAGE_BYTES * 4) / 3) + 1024 * 1024;

/** Uploads stream multipart (bounded by the multipart limits); anything else a route reads is small. */
export const MAX_SMALL_BODY_BYTES = 64 * 1024;

/** The multipart limits: files, text fields, and room for the parts' headers. */
export const MULTIPART_LIMITS = { fileSize: MAX_IMAGE_BYTES, files: MAX_IMAGES_PER_TICKET, fields: 50, fieldSize: 1024 * 1024, parts: 100 };
/** The most a multipart body can carry within {@link MULTIPART_LIMITS}: what a chunked one is charged. */
export const MAX_MULTIPART_BYTES = MULTIPART_LIMITS.files * MULTIPART_LIMITS.fileSize + MULTIPART_LIMITS.fields * MULTIPART_LIMITS.fieldSize + 1024 * 1024;

/** Every route that declares no `bodyLimit` of its own takes at most {@link MAX_SMALL_BODY_BYTES}. Call before routes. */
export function smallBodiesByDefault(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= MAX_SMALL_BODY_BYTES;
  });
}
