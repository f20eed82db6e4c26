import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../shared/uuid';
import { STATUS_CODE, statusFromCode, TicketStatus } from './ticket-status';
import type { TicketFacts } from './ticket.rules';

/**
 * The write model of a ticket. Reads never hydrate it (see ticket.query.ts); writes load it
 * under a row lock, change it and flush, together with the history entry of the change.
 *
 * Foreign keys are plain ids: the write path needs nothing from the related users, and the read
 * path joins in SQL.
 */
@Entity({ tableName: 'tickets' })
export class Ticket implements TicketFacts {
  [OptionalProps]?: 'statusCode' | 'status' | 'schedulerId' | 'staffId' | 'imageIds' | 'createdAt' | 'updatedAt';

  /** UUID v7: sorts by creation, so "newest first" is the primary key descending. */
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ type: 'integer' })
  customerId!: number;

  /** The scheduler who last assigned it. */
  @Property({ type: 'integer', nullable: true })
  schedulerId: number | null = null;

  /** The staff member it is assigned to. */
  @Property({ type: 'integer', nullable: true })
  staffId: number | null = null;

  @Property({ type: 'text' })
  content!: string;

  @Property({ type: 'smallint', fieldName: 'status' })
  statusCode: number = STATUS_CODE[TicketStatus.NEW];

  /** Ordered ids of rows in `images`. */
  @Property({ type: 'uuid[]', columnType: 'uuid[]' })
  imageIds: string[] = [];

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  get status(): TicketStatus {
    return statusFromCode(this.statusCode);
  }

  set status(status: TicketStatus) {
    this.statusCode = STATUS_CODE[status];
  }
}
