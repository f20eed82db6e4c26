import { Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TicketRow } from '../ticket/ticket-row.entity';

/**
 * A message on a ticket. Deleting a reply keeps its row (the record that it existed, who wrote
 * it, when it went) but erases its text in the same statement that marks it deleted: deleted
 * means gone, from every read and every replayed event. Reads skip deleted replies.
 */
@Entity({ tableName: 'replies' })
export class Reply extends TicketRow {
  [OptionalProps]?: 'createdAt' | 'deletedAt';

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
