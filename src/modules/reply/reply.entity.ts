import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { Ticket } from '../ticket/ticket.entity';

/**
 * A message on a ticket. Deleting a reply marks it deleted rather than erasing it: the ticket
 * system is a system of record, and reads simply skip deleted replies.
 */
@Entity({ tableName: 'replies' })
export class Reply {
  [OptionalProps]?: 'createdAt' | 'deletedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** A relation to MikroORM (so a new ticket is inserted before its history), an id to us. */
  @ManyToOne(() => Ticket, { mapToPk: true, fieldName: 'ticket_id', type: 'uuid' })
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
