import { EntityManager } from '@mikro-orm/core';
import { execute } from '../../db/sql';
import { badInput } from '../../shared/errors';
import { Viewer } from '../user/viewer';
import { StoredImage } from './image.entity';
import { MAX_IMAGES_PER_TICKET } from './image.limits';
import type { ImageRef } from './image-ref';
import type { ImageMime } from './image-type';

/** Bytes already checked by `assertImage`. */
export interface CheckedImage {
  readonly bytes: Buffer;
  readonly mime: ImageMime;
}

export interface ImageContent {
  readonly mime: string;
  readonly data: Buffer;
}

/** Stores images in the database and turns clients' image references into image ids. */
export class ImageService {
  /** Stores checked images for an uploader; returns their ids in the given order. */
  async store(em: EntityManager, uploaderId: number, images: readonly CheckedImage[]): Promise<string[]> {
    const rows = images.map((image) => em.create(StoredImage, { uploaderId, mime: image.mime, size: image.bytes.length, data: image.bytes }));
    em.persist(rows);
    await em.flush();
    return rows.map((row) => row.id);
  }

  /**
   * The image ids a ticket will list, in order. Inline images are stored now; a stored image may
   * be named only by whoever uploaded it, or if the ticket already lists it, so nobody can attach
   * another user's upload by guessing or seeing its URL.
   */
  async resolve(tem: EntityManager, viewer: Viewer, refs: readonly ImageRef[], currentIds: readonly string[], field: string): Promise<string[]> {
    if (refs.length > MAX_IMAGES_PER_TICKET) {
      throw badInput(field, `${field}: at most ${MAX_IMAGES_PER_TICKET} images per ticket`);
    }
    const storedIds = refs.flatMap((ref) => (ref.kind === 'stored' ? [ref.id] : []));
    const usable = new Set(currentIds);
    const unknown = storedIds.filter((id) => !usable.has(id));
    if (unknown.length) {
      const owned = await tem.find(StoredImage, { id: { $in: unknown }, uploaderId: viewer.id }, { fields: ['id'], disableIdentityMap: true });
      for (const image of owned) usable.add(image.id);
    }
    const ids: string[] = [];
    for (const [index, ref] of refs.entries()) {
      if (ref.kind === 'stored') {
        if (!usable.has(ref.id)) throw badInput(`${field}[${index}]`, `${field}[${index}]: no such image`);
        ids.push(ref.id);
      } else {
        const [id] = await this.store(tem, viewer.id, [ref]);
        ids.push(id);
      }
    }
    return ids;
  }

  /** The bytes and type of a stored image, or null. */
  async read(em: EntityManager, id: string): Promise<ImageContent | null> {
    // base64 on the wire: see Base64ByteaType for why.
    const rows = await execute<Array<{ mime: string; data: string }>>(em, "select mime, encode(data, 'base64') as data from images where id = ?", [id]);
    const row = rows[0];
    if (!row) return null;
    return { mime: row.mime, data: Buffer.from(row.data, 'base64') };
  }
}
