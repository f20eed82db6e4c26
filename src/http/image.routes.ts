import type { FastifyInstance } from 'fastify';
import { malformedMultipart } from './errors';
import { settleUnreadBody } from './body-guards';
import './route-config';
import { badInput } from '../shared/errors';
import { authenticateRequest, authorizationFromHeader } from '../modules/session/authorization';
import { isUuid } from '../shared/uuid';
import type { Services } from '../services';
import type { EntityManager } from '@mikro-orm/core';
import { CheckedImage } from '../modules/image/image.service';
import { MAX_IMAGES_PER_TICKET } from '../modules/image/image.limits';
import { assertImage } from '../modules/image/image-type';
import { imageUrl } from '../modules/image/image-ref';

export interface ImageRoutesOptions {
  services: Services;
  fork: () => EntityManager;
  publicUrl: () => string;
}

/**
 * `POST /uploads` stores images (multipart, authenticated) and answers their URLs in part order;
 * `GET /images/:id` serves them with their sniffed type, never as anything a browser would run.
 */
export async function imageRoutes(app: FastifyInstance, options: ImageRoutesOptions): Promise<void> {
  const { services, fork, publicUrl } = options;

  // Files stream in (multipart limits); a throttled address is refused before the body.
  app.post('/uploads', { config: { largeBody: true } }, async (request, reply) => {
    const { viewer } = await authenticateRequest(services, authorizationFromHeader(request.headers.authorization), request.ip).catch(async (error: unknown) => {
      // Not a byte of a stranger's upload is read (http/body-guards.ts settleUnreadBody).
      await settleUnreadBody(request, reply, 'unknown');
      throw error;
    });
    if (!request.isMultipart()) throw badInput('body', 'Send images as multipart/form-data file parts');
    const images: CheckedImage[] = [];
    try {
      for await (const part of request.parts()) {
        if (part.type !== 'file') continue;
        const field = `${part.fieldname}[${images.length}]`;
        if (images.length >= MAX_IMAGES_PER_TICKET) throw badInput(field, `At most ${MAX_IMAGES_PER_TICKET} images per upload`);
        const bytes = await part.toBuffer();
        images.push({ bytes, mime: assertImage(bytes, field) });
      }
    } catch (error) {
      // Refused part-way: the rest is read (within bounds) so the client reads the refusal.
      await settleUnreadBody(request, reply, 'authenticated');
      throw malformedMultipart(error);
    }
    if (images.length === 0) throw badInput('images', 'No image file parts in the upload');
    const ids = await services.images.store(fork(), viewer.id, images);
    return reply.status(201).send({ urls: ids.map((id) => imageUrl(publicUrl(), id)) });
  });

  // Clients embed images from wherever they are served.
  app.get<{ Params: { id: string } }>(
    '/images/:id',
    { config: { securityHeaders: { 'cross-origin-resource-policy': 'cross-origin' } } },
    async (request, reply) => {
      // Tolerate the extension clients may append (`…/images/<id>.png`).
      const id = request.params.id.replace(/\.[A-Za-z0-9]{1,10}$/, '');
      const image = isUuid(id) ? await services.images.read(fork(), id.toLowerCase()) : null;
      if (!image) return reply.status(404).send({ code: 404, message: 'Image not found' });
      return reply
        .header('content-type', image.mime)
        .header('content-length', image.data.length)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(image.data);
    },
  );
}
