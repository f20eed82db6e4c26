import type { EntityManager } from '@mikro-orm/core';
import type { TicketView, UserSummary } from '../ticket/ticket.query';
import type { EventReply } from './event-log';
import type { SqlStatement } from '../../db/sql';

/** What happened to a ticket; subscriptions push these (docs/contract.md `TicketEventKind`). */
export enum TicketEventKind {
  CREATED = 'CREATED',
  STATUS_CHANGED = 'STATUS_CHANGED',
  EDITED = 'EDITED',
  REPLY_ADDED = 'REPLY_ADDED',
  REPLY_DELETED = 'REPLY_DELETED',
}

/**
 * What a write knows after it wrote: the ticket as the transaction left it (with the nested
 * collections the writer read), the actor and, for a reply event, the reply. The writer's process
 * fans the event out from this instead of reading it back from the log (realtime/event-hub.ts).
 */
export interface ChangeOutcome {
  readonly ticket: TicketView;
  readonly actor: UserSummary;
  readonly reply: EventReply | null;
}

/** One committed change, as the services report it. */
export interface TicketChange {
  readonly kind: TicketEventKind;
  readonly ticketId: string;
  readonly actorId: number;
  readonly replyId?: string;
  readonly at: Date;
  /** Set by writes that know it (transitions, replies) before they commit. */
  outcome?: ChangeOutcome;
}

/**
 * A service's writes for one change, as data-modifying CTEs (`name as (…), name as (…)`) with
 * their `?` parameters, to run in the same statement that records the change. `gate` names the
 * CTE that returns the one row the write exists for; when it returns none (a condition in the
 * write refused it), nothing is recorded and {@link RecordWith.settle} answers false.
 */
export interface ChangeWrites {
  readonly ctes: string;
  readonly params: readonly unknown[];
  readonly gate: string;
}

/**
 * {@link ChangeSink.recordWith}'s statement, which the service sends in its own message (with the
 * statement that locks the ticket, db/write-transaction.ts `executeAll`), and what its rows mean.
 */
export interface RecordWith {
  readonly statement: SqlStatement;
  /** Reads the statement's rows: false when the gate refused (nothing was recorded, and the write is reported failed). */
  settle(rows: readonly unknown[]): boolean;
}

/**
 * Where the services report changes. `record` runs inside the write transaction (so a change and
 * its record commit or roll back together); `committed` runs after the commit, to publish.
 * `recordWith` is `record` in the same statement as the service's own writes, returned for the
 * service to send (a bus announces such a change by the NOTIFY in that statement or after the
 * commit, never with a statement of its own). A write whose transaction fails after `record` or
 * `recordWith` began reports `failed` instead of `committed` (the sink then stops waiting for its
 * publication; realtime/local-writes.ts).
 */
export interface ChangeSink {
  record(em: EntityManager, change: TicketChange): Promise<void>;
  recordWith(change: TicketChange, writes: ChangeWrites): RecordWith;
  committed(change: TicketChange): void;
  failed(change: TicketChange): void;
}
