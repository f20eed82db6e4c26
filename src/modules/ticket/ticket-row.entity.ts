import { ManyToOne, PrimaryKey } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { Ticket } from './ticket.entity';

/**
 * What a row that belongs to one ticket (a reply, a history entry) maps the same way: an id of
 * its own, UUID v7 so the rows sort by creation, and its ticket's id. A mapped superclass, not an
 * entity: MikroORM gives each subclass these two properties on its own table.
 */
export abstract class TicketRow {
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** A relation to MikroORM (so a new ticket is inserted before its rows), an id to us. */
  @ManyToOne(() => Ticket, { mapToPk: true, fieldName: 'ticket_id', type: 'uuid' })
  ticketId!: string;
}
