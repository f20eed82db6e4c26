import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';

/**
 * A message on a ticket. Deleting a reply marks it deleted rather than erasing it: the ticket
 * system is a system of record, and reads simply skip deleted replies.
 */
@Entity({ tableName: 'replies' })
export class Reply {
  [OptionalProps]?: 'createdAt' | 'deletedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ type: 'uuid' })
  ticketId!: string;

  @Property({ type: 'integer' })
  authorId!: number;

  @Property({ type: 'text' })
  content!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', nullable: true })
  deletedAt: Date | null = null;
}
