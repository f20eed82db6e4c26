import type { EntityManager } from '@mikro-orm/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../services';
import { badInput, DomainError, ErrorCode } from '../shared/errors';
import { parseImageRef, type ImageRef } from '../modules/image/image-ref';
import { MAX_IMAGES_PER_TICKET } from '../modules/image/image.limits';
import { assertImage } from '../modules/image/image-type';
import { idempotencyKeyHeader } from '../modules/ticket/idempotency';
import { findLegacyAction, type LegacyInput } from './legacy-actions';
import { parseLegacyBody } from './legacy-body.parser';
import { asFields } from './legacy-fields';
import { malformedMultipart } from '../http/errors';

export interface LegacyRoutesOptions {
  services: Services;
  fork: () => EntityManager;
  /** Base of absolute image URLs (PUBLIC_URL, else the listening URL). */
  publicUrl: () => string;
}

/** Text parts of a form that carry image references rather than fields: `images`, `images[]`, `images[3]`. */
const IMAGES_PART = /^images(?:\[\d*\])?$/;

/**
 * `POST /api/ticket`, the seed document's action endpoint (SPEC "Legacy endpoint").
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

  app.post('/api/ticket', async (request, reply) => {
    const input: LegacyInput = request.isMultipart()
      ? await readForm(request)
      : { fields: asFields(request.body), multipart: false };
    const action = findLegacyAction(input.fields.action);
    if (input.multipart && !action.multipart) {
      throw badInput('action', `${action.name} takes a JSON body: multipart/form-data is for create-ticket and edit-ticket`);
    }
    // Authentication comes after the body is understood, so malformed requests cost no scrypt.
    const viewer = await services.auth.authenticate(input.fields.credential, request.ip);
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

/**
 * Reads a multipart form: text parts are the JSON fields (by name, each at most once), file
 * parts and `images` text parts are the images, in part order. Every part is read before any is
 * judged, so the connection is left clean whatever the answer.
 */
async function readForm(request: FastifyRequest): Promise<LegacyInput> {
  const fields: Record<string, unknown> = {};
  const images: Array<{ bytes: Buffer } | { text: unknown }> = [];
  const duplicates: string[] = [];
  let truncated: string | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        // A browser sends an unused file input as an empty part without a file name.
        if (bytes.length === 0 && !part.filename) continue;
        images.push({ bytes });
      } else if (part.valueTruncated) {
        truncated ??= part.fieldname;
      } else if (IMAGES_PART.test(part.fieldname)) {
        images.push({ text: part.value });
      } else if (Object.hasOwn(fields, part.fieldname)) {
        duplicates.push(part.fieldname);
      } else {
        fields[part.fieldname] = part.value;
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
  return { fields, multipart: true, partImages: images.length ? partImages : undefined };
}
