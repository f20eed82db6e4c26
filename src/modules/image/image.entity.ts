import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { Base64ByteaType } from '../../db/base64-bytea.type';

/**
 * An uploaded image. The bytes live in the database so that every server process sharing it can
 * serve them; the type was decided by sniffing the bytes, never by what the client declared.
 */
@Entity({ tableName: 'images' })
export class StoredImage {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** Who uploaded it: only they may attach it to a ticket. */
  @Property({ type: 'integer' })
  uploaderId!: number;

  @Property({ type: 'text' })
  mime!: string;

  @Property({ type: 'integer' })
  size!: number;

  @Property({ type: Base64ByteaType, columnType: 'bytea', lazy: true })
  data!: Buffer;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  createdAt: Date = new Date();
}
