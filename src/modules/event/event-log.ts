import type { EntityManager } from '@mikro-orm/core';
import { visibilitySql, type ReplyView, type UserSummary } from '../ticket/ticket.query';
import type { VisibilityScope } from '../ticket/ticket.rules';
import { ChangeWrites, TicketChange, TicketEventKind } from './ticket-change';
import { execute } from '../../db/sql';
import { epochMs, parsedJson, userJson } from '../../db/sql-json';
import type { SqlStatement } from '../../db/sql';

/**
 * The event log: every committed change to a ticket, in commit order.
 *
 * Why commit order needs care: `seq` comes from a sequence, and PostgreSQL hands out sequence
 * values when a row is inserted, not when its transaction commits. Two concurrent writers can take
 * 41 and 42 and commit 42 first; a reader that saw 42 and moved on would never see 41. So every
 * writer takes one transaction-scoped advisory lock in the same statement that inserts its event,
 * right before the commit (the services record changes after their last flush). The lock is held
 * until the transaction ends, so the next writer draws its `seq` only after the previous one has
 * committed or rolled back: seq order is commit order, and "everything after N" read at any moment
 * is complete up to the newest committed event. A rolled-back writer leaves a gap, never a late
 * arrival. What it costs: writers serialise for the last statement and the commit (about one
 * round trip each); the rest of their transactions still run concurrently. On the embedded
 * database there is one connection, so transactions are serial anyway and the lock is free.
 */

/** Advisory lock key of the event-order lock ("evnt"); the migration lock uses another. */
export const EVENT_ORDER_LOCK_KEY = 0x65766e74;

/**
 * The reply of a reply event. `content` is null once the reply is deleted: its text is never
 * served again, neither in the REPLY_DELETED event nor in a replayed REPLY_ADDED.
 */
export interface EventReply extends Omit<ReplyView, 'content'> {
  readonly content: string | null;
}

/** One event as read back from the log, with its actor and (reply events) its reply. */
export interface LoggedEvent {
  readonly seq: number;
  readonly kind: TicketEventKind;
  readonly ticketId: string;
  readonly actor: UserSummary;
  /** For REPLY_ADDED and REPLY_DELETED: the reply, deleted or not (then without its text). */
  readonly reply: EventReply | null;
  /** When the change happened, in ms since the epoch. */
  readonly at: number;
}

export interface ReadAfterOptions {
  /** Only events of this ticket. */
  readonly ticketId?: string;
  /**
   * Only events of tickets this scope sees now (the rule table's visibilityScope), filtered in
   * SQL: a replay reads the viewer's events, not the whole log after the cursor.
   */
  readonly scope?: VisibilityScope;
  /** Most events to return. */
  readonly limit: number;
  /** Only events up to this seq (a window of the log: bounds what one read may scan). */
  readonly throughSeq?: number;
}

interface EventRow {
  seq: string | number;
  kind: TicketEventKind;
  ticket_id: string;
  at: number;
  actor: UserSummary | string;
  reply: EventReply | string | null;
}

/**
 * Events with their actor and reply in one statement. The log stores no text: the reply comes
 * from the replies table as it is when the event is read, so a REPLY_DELETED event still says
 * which reply went, and a deleted reply's text (erased by the deletion) is served by no event,
 * whatever cursor it is replayed from.
 */
const SELECT_EVENTS = `select e.seq, e.kind, e.ticket_id, ${epochMs('e.at')} as at,
    ${userJson('a')} as actor,
    case when r.id is null then null else json_build_object(
      'id', r.id, 'ticketId', r.ticket_id, 'content', case when r.deleted_at is null then r.content end,
      'createdAt', ${epochMs('r.created_at')}, 'author', ${userJson('ra')}) end as reply
  from ticket_events e
  join users a on a.id = e.actor_id
  left join replies r on r.id = e.reply_id
  left join users ra on ra.id = r.author_id`;

function toEvent(row: EventRow): LoggedEvent {
  return {
    seq: Number(row.seq),
    kind: row.kind,
    ticketId: row.ticket_id,
    actor: parsedJson(row.actor),
    reply: row.reply === null ? null : parsedJson(row.reply),
    at: Number(row.at),
  };
}

/** Appends to and reads the event log. Stateless: every call takes an EntityManager. */
/** The event's insert, drawing its seq once the `ordered` CTE holds the event-order lock. */
const INSERT_EVENT = `insert into ticket_events (kind, ticket_id, actor_id, reply_id, at)
       select ?::text, ?::uuid, ?::integer, ?::uuid, ?::timestamptz from ordered`;

/**
 * {@link EventLog.appendWith}'s statements, by the caller's CTE text (a constant of its code:
 * a transition's, a reply's) and whether a NOTIFY rides along; at most
 * {@link MAX_APPEND_STATEMENTS} texts are kept, others are built per call. The same string
 * object every time, so the write path's lookup of its prepared name (db/write-transaction.ts)
 * does not hash a freshly built text per write.
 */
const appendStatements = new Map<string, { gate: string; texts: [string | undefined, string | undefined] }>();
const MAX_APPEND_STATEMENTS = 16;

function appendWithSql(writes: ChangeWrites, notifies: boolean): string {
  let known = appendStatements.get(writes.ctes);
  if (!known && appendStatements.size < MAX_APPEND_STATEMENTS)
    appendStatements.set(writes.ctes, (known = { gate: writes.gate, texts: [undefined, undefined] }));
  // The same CTE text with another gate is another statement: built, not kept.
  const texts = known?.gate === writes.gate ? known.texts : undefined;
  const index = notifies ? 1 : 0;
  const cached = texts?.[index];
  if (cached !== undefined) return cached;
  const notify = notifies ? `, pg_notify(?, event.seq::text || ':' || event.ticket_id::text)` : '';
  const sql = `with ${writes.ctes},
       ordered as (select pg_advisory_xact_lock(?::bigint) from ${writes.gate}),
       event as (
         ${INSERT_EVENT}
         returning seq, ticket_id)
       select event.seq${notify} from event`;
  if (texts) texts[index] = sql;
  return sql;
}

/** The parameters of {@link INSERT_EVENT} after the lock key, and the NOTIFY channel when one is queued. */
const eventParams = (change: TicketChange, notifyChannel: string | undefined): unknown[] => [
  EVENT_ORDER_LOCK_KEY,
  change.kind,
  change.ticketId,
  change.actorId,
  change.replyId ?? null,
  change.at,
  ...(notifyChannel === undefined ? [] : [notifyChannel]),
];

/** The seq the insert returned. */
function seqOf(rows: Array<{ seq: string | number }>): number {
  const seq = Number(rows[0]?.seq);
  if (!Number.isSafeInteger(seq)) throw new Error('The event log did not return a seq');
  return seq;
}

export class EventLog {
  /**
   * Appends a change inside the writer's transaction (`tem`) and returns its seq. Takes the
   * event-order lock first (see above); the CTE makes PostgreSQL take it before drawing the seq.
   */
  async append(tem: EntityManager, change: TicketChange, notifyChannel?: string): Promise<number> {
    // With a channel, the NOTIFY is queued by the same statement (see appendWith).
    const notify = notifyChannel === undefined ? '' : `, pg_notify(?, seq::text || ':' || ticket_id::text)`;
    const rows = await execute<Array<{ seq: string | number }>>(
      tem,
      `with ordered as (select pg_advisory_xact_lock(?::bigint))
       ${INSERT_EVENT}
       returning seq${notify}`,
      eventParams(change, notifyChannel),
    );
    return seqOf(rows);
  }

  /**
   * `append` in the same statement as the service's writes (see ChangeWrites), for the caller to
   * send: the event is inserted only if the gate returned its row, and, with `notifyChannel`, a
   * NOTIFY carrying `<seq>:<ticketId>` is queued in that statement too (delivered on commit).
   * {@link appendedSeq} reads its rows.
   */
  appendWithStatement(change: TicketChange, writes: ChangeWrites, notifyChannel?: string): SqlStatement {
    return { sql: appendWithSql(writes, notifyChannel !== undefined), params: [...writes.params, ...eventParams(change, notifyChannel)] };
  }

  /** The event's seq from {@link appendWithStatement}'s rows, or undefined when the gate refused. */
  appendedSeq(rows: readonly unknown[]): number | undefined {
    return rows.length ? seqOf(rows as Array<{ seq: string | number }>) : undefined;
  }

  /** Events after `seq`, oldest first. */
  async readAfter(em: EntityManager, seq: number, options: ReadAfterOptions): Promise<LoggedEvent[]> {
    const params: unknown[] = [seq];
    let sql = `${SELECT_EVENTS} where e.seq > ?`;
    if (options.ticketId !== undefined) {
      sql += ' and e.ticket_id = ?';
      params.push(options.ticketId);
    }
    if (options.throughSeq !== undefined) {
      sql += ' and e.seq <= ?';
      params.push(options.throughSeq);
    }
    const visible = options.scope && visibilitySql(options.scope);
    if (visible) {
      sql += ` and e.ticket_id in (select t.id from tickets t where ${visible.sql})`;
      params.push(...visible.params);
    }
    sql += ' order by e.seq limit ?';
    params.push(options.limit);
    const rows = await execute<EventRow[]>(em, sql, params);
    return rows.map(toEvent);
  }

  /** The newest seq in the log; 0 when it is empty. */
  async lastSeq(em: EntityManager): Promise<number> {
    const rows = await execute<Array<{ seq: string | number | null }>>(em, 'select max(seq) as seq from ticket_events');
    return Number(rows[0]?.seq ?? 0);
  }
}
