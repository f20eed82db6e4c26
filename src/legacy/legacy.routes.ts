import type { EntityManager } from '@mikro-orm/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../services';
import { badInput, DomainError, ErrorCode } from '../shared/errors';
import { parseImageRef, type ImageRef } from '../modules/image/image-ref';
import { MAX_IMAGES_PER_TICKET } from '../modules/image/image.limits';
import { assertImage } from '../modules/image/image-type';
import { idempotencyKeyHeader } from '../http/idempotency-header';
import { findLegacyAction, type LegacyInput } from './legacy-actions';
import { parseLegacyBody } from './legacy-body.parser';
import { asFields } from './legacy-fields';
import { malformedMultipart } from '../http/errors';
import { settleUnreadBody, type BodySender } from '../http/body-guards';
import type { Viewer } from '../modules/user/viewer';
import { MAX_JSON_BODY_BYTES } from '../http/route-config';
import { budgetSpent, rateLimitHeaders, type RateLimiter } from '../modules/ratelimit/rate-limiter';

/**
 * What any legacy request costs against its user's budget, read or write alike (the budget is the
 * one GraphQL spends from: graphql/rate-cost.ts, docs/hardening.md "Request budgets").
 */
export const LEGACY_REQUEST_POINTS = 10;

export interface LegacyRoutesOptions {
  services: Services;
  fork: () => EntityManager;
  /** Base of absolute image URLs (PUBLIC_URL, else the listening URL). */
  publicUrl: () => string;
  /** Request budgets (RATE_LIMIT_POINTS); undefined: off. */
  rateLimiter?: RateLimiter;
}

/** Text parts of a form that carry image references rather than fields: `images`, `images[]`, `images[3]`. */
const IMAGES_PART = /^images(?:\[\d*\])?$/;

/**
 * `POST /api/ticket`, the seed document's action endpoint (docs/contract.md "Legacy endpoint").
 *
 * Registered as its own encapsulated plugin so that its tolerant body parser applies to this
 * route only: GraphQL keeps strict JSON. Any content type but multipart is read as (tolerant)
 * JSON, because `curl -d` labels JSON as a form; multipart/form-data goes to @fastify/multipart,
 * registered app-wide with its file size and count limits. Errors are DomainErrors answered by
 * the app's error handler as `{code, message}` with the same HTTP status.
 */
export async function legacyRoutes(app: FastifyInstance, options: LegacyRoutesOptions): Promise<void> {
  const { services, fork, publicUrl } = options;

  app.removeContentTypeParser(['application/json', 'text/plain']);
  // The app's bodyLimit (room for ten base64 images) still applies: beyond it, 413.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseLegacyBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  // Inline images in JSON: the large body limit; a throttled address is refused before the body.
  app.post('/api/ticket', { bodyLimit: MAX_JSON_BODY_BYTES, config: { largeBody: true } }, async (request, reply) => {
    let verified: Viewer | undefined;
    let input: LegacyInput;
    if (request.isMultipart()) {
      let sender: BodySender = 'unknown';
      const verify = async (credential: unknown): Promise<Viewer> => {
        const viewer = await services.auth.authenticate(credential, request.ip);
        sender = 'authenticated';
        return viewer;
      };
      try {
        ({ input, viewer: verified } = await readForm(request, verify));
      } catch (error) {
        // The rest of the form may be unread: a stranger's is not read, an authenticated sender's is, within bounds.
        await settleUnreadBody(request, reply, sender);
        throw error;
      }
    } else {
      input = { fields: asFields(request.body), multipart: false };
    }
    const action = findLegacyAction(input.fields.action);
    if (input.multipart && !action.multipart) {
      throw badInput('action', `${action.name} takes a JSON body: multipart/form-data is for create-ticket and edit-ticket`);
    }
    // Authentication comes after a JSON body is understood, so malformed requests cost no scrypt;
    // a form's credential was verified before its first file was read.
    const viewer = verified ?? (await services.auth.authenticate(input.fields.credential, request.ip));
    // The user's budget is taken before the action runs; a refused request does not run (429).
    if (options.rateLimiter) {
      const budget = await options.rateLimiter.take({ userId: viewer.id }, LEGACY_REQUEST_POINTS, 'legacy');
      reply.headers(rateLimitHeaders(budget));
      if (!budget.admitted) throw budgetSpent(budget);
    }
    const idempotencyKey = idempotencyKeyHeader(request.raw.rawHeaders);
    const result = await action.run({ em: fork(), services, viewer, publicUrl: publicUrl(), idempotencyKey }, input);
    return reply.send(result);
  });

  // Legacy clients only POST; any other method is told so in the endpoint's own error shape.
  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE'],
    url: '/api/ticket',
    handler: async (_request, reply) => reply.status(405).header('allow', 'POST').send({ code: 405, message: 'Use POST for /api/ticket' }),
  });
}

/** Text a form may send before its credential: more, and the credential must have come first. */
const FIELDS_BEFORE_CREDENTIAL_BYTES = 64 * 1024;

/**
 * Reads a multipart form: text parts are the JSON fields (by name, each at most once), file
 * parts and `images` text parts are the images, in part order.
 *
 * Images are not read before we know who is asking: the `credential` field must come before the
 * first file part, the first `images` text part, and before 64 KiB of other fields; there it is
 * verified (`verify`), and a form without it by then is refused with 401 without reading further.
 * Otherwise every part is read before any is judged.
 */
async function readForm(request: FastifyRequest, verify: (credential: unknown) => Promise<Viewer>): Promise<{ input: LegacyInput; viewer?: Viewer }> {
  const fields: Record<string, unknown> = {};
  const images: Array<{ bytes: Buffer } | { text: unknown }> = [];
  const duplicates: string[] = [];
  let truncated: string | undefined;
  let viewer: Viewer | undefined;
  let fieldBytes = 0;
  const verifyBefore = async (what: string): Promise<void> => {
    if (viewer) return;
    if (!Object.hasOwn(fields, 'credential')) {
      throw new DomainError(ErrorCode.UNAUTHENTICATED, `Send the credential field before ${what} in a multipart form`, { field: 'credential' });
    }
    viewer = await verify(fields.credential);
  };
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        await verifyBefore('any file');
        const bytes = await part.toBuffer();
        // A browser sends an unused file input as an empty part without a file name.
        if (bytes.length === 0 && !part.filename) continue;
        images.push({ bytes });
      } else if (part.valueTruncated) {
        truncated ??= part.fieldname;
      } else if (IMAGES_PART.test(part.fieldname)) {
        await verifyBefore('any image');
        images.push({ text: part.value });
      } else if (Object.hasOwn(fields, part.fieldname)) {
        duplicates.push(part.fieldname);
      } else {
        fields[part.fieldname] = part.value;
      }
      if (part.type === 'field') {
        fieldBytes += typeof part.value === 'string' ? Buffer.byteLength(part.value) : 0;
        if (fieldBytes > FIELDS_BEFORE_CREDENTIAL_BYTES) await verifyBefore(`${FIELDS_BEFORE_CREDENTIAL_BYTES} bytes of fields`);
      }
    }
  } catch (error) {
    throw malformedMultipart(error);
  }
  if (truncated !== undefined) throw new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `The form field ${truncated} is too large`, { field: truncated });
  if (duplicates.length) throw badInput(duplicates[0] as string, `${duplicates[0]} is sent more than once`);
  if (images.length > MAX_IMAGES_PER_TICKET) throw badInput('images', `at most ${MAX_IMAGES_PER_TICKET} images per ticket`);
  const partImages = images.map((image, index): ImageRef => {
    const field = `images[${index}]`;
    if ('bytes' in image) return { kind: 'inline', bytes: image.bytes, mime: assertImage(image.bytes, field) };
    return parseImageRef(image.text, field, { allowBareBase64: true });
  });
  return { input: { fields, multipart: true, partImages: images.length ? partImages : undefined }, viewer };
}
