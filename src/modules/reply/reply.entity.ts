import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { Ticket } from '../ticket/ticket.entity';

/**
 * A message on a ticket. Deleting a reply keeps its row (the record that it existed, who wrote
 * it, when it went) but erases its text in the same statement that marks it deleted: deleted
 * means gone, from every read and every replayed event. Reads skip deleted replies.
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

  /** Null exactly when the reply is deleted (a check constraint says so). */
  @Property({ type: 'text', nullable: true })
  content!: string | null;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', nullable: true })
  deletedAt: Date | null = null;
}
