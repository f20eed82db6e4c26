import type { EntityManager } from '@mikro-orm/core';

/** What happened to a ticket; subscriptions push these (docs/contract.md `TicketEventKind`). */
export enum TicketEventKind {
  CREATED = 'CREATED',
  STATUS_CHANGED = 'STATUS_CHANGED',
  EDITED = 'EDITED',
  REPLY_ADDED = 'REPLY_ADDED',
  REPLY_DELETED = 'REPLY_DELETED',
}

/** One committed change, as the services report it. */
export interface TicketChange {
  readonly kind: TicketEventKind;
  readonly ticketId: string;
  readonly actorId: number;
  readonly replyId?: string;
  readonly at: Date;
}

/**
 * Where the services report changes. `record` runs inside the write transaction (so a change and
 * its record commit or roll back together); `committed` runs after the commit, to publish.
 */
export interface ChangeSink {
  record(em: EntityManager, change: TicketChange): Promise<void>;
  committed(change: TicketChange): void;
}
