import { BigIntType, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { TicketEventKind } from './ticket-change';

/**
 * One row of the event log (table `ticket_events`): a committed change to a ticket. Rows are
 * appended by {@link EventLog.append} inside the change's own transaction and never updated;
 * the entity exists so the ORM knows the table, while the log reads and writes it in SQL.
 */
@Entity({ tableName: 'ticket_events' })
export class TicketEventRecord {
  /** Commit order (see event-log.ts); a cursor encodes it. */
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true })
  seq!: number;

  @Enum({ items: () => TicketEventKind, type: 'text' })
  kind!: TicketEventKind;

  @Property({ type: 'uuid' })
  ticketId!: string;

  @Property({ type: 'integer' })
  actorId!: number;

  /** The reply of REPLY_ADDED / REPLY_DELETED. */
  @Property({ type: 'uuid', nullable: true })
  replyId!: string | null;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  at!: Date;
}
