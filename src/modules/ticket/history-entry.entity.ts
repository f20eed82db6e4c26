import { Entity, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { Ticket } from './ticket.entity';

/** One line of a ticket's operating history: who moved it to which status, when. Append-only. */
@Entity({ tableName: 'ticket_history' })
export class HistoryEntry {
  [OptionalProps]?: 'at';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** A relation to MikroORM (so a new ticket is inserted before its history), an id to us. */
  @ManyToOne(() => Ticket, { mapToPk: true, fieldName: 'ticket_id', type: 'uuid' })
  ticketId!: string;

  @Property({ type: 'integer' })
  actorId!: number;

  /** Status code the ticket entered. */
  @Property({ type: 'smallint' })
  status!: number;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  at: Date = new Date();
}
