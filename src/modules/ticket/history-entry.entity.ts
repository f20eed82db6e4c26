import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';

/** One line of a ticket's operating history: who moved it to which status, when. Append-only. */
@Entity({ tableName: 'ticket_history' })
export class HistoryEntry {
  [OptionalProps]?: 'at';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ type: 'uuid' })
  ticketId!: string;

  @Property({ type: 'integer' })
  actorId!: number;

  /** Status code the ticket entered. */
  @Property({ type: 'smallint' })
  status!: number;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  at: Date = new Date();
}
