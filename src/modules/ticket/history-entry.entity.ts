import { Entity, OptionalProps, Property } from '@mikro-orm/core';
import { TicketRow } from './ticket-row.entity';

/** One line of a ticket's operating history: who moved it to which status, when. Append-only. */
@Entity({ tableName: 'ticket_history' })
export class HistoryEntry extends TicketRow {
  [OptionalProps]?: 'at';

  @Property({ type: 'integer' })
  actorId!: number;

  /** Status code the ticket entered. */
  @Property({ type: 'smallint' })
  status!: number;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  at: Date = new Date();
}
