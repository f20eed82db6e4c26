import type { EntityManager } from '@mikro-orm/core';
import { forbidden } from '../../shared/errors';
import { Role } from '../user/role';
import { hasRole, Viewer } from '../user/viewer';
import { STATUS_CODE, statusFromCode, TicketStatus } from './ticket-status';
import { OrderDirection, TicketOrder, TicketOrderField, TicketPosition } from './ticket-order';
import { containsPattern, isBigramTerm } from './ticket-search';
import { HIDDEN_FROM_STAFF, MESSAGES, TicketFacts, VisibilityScope, visibilityScope } from './ticket.rules';
import { execute, executePreparedArrays, rowArrays, type SqlStatement } from '../../db/sql';
import { epochMs, parsedJson, userJson } from '../../db/sql-json';

/**
 * The read path. Reads are the hot path of the product, so they never hydrate entities: one SQL
 * statement returns a whole page of tickets with their users, replies and history as plain rows
 * (STACK.md: hydration was the main cost of a nested page), and permission flags are computed
 * from the rows afterwards. A page costs the same number of statements whatever its size.
 *
 * The rows are not JSON built by the database (issue 15): serialising every reply and user as
 * JSON in PostgreSQL, then parsing that text back here, cost more CPU on both sides than plain
 * columns. The statement pages the tickets in a CTE and appends, in one result, the page's
 * replies, its history and each user they mention once; `assemble` puts the views together.
 */

export interface UserSummary {
  readonly id: number;
  readonly username: string;
  readonly roles: Role[];
}

export interface ReplyView {
  readonly id: string;
  readonly ticketId: string;
  readonly content: string;
  readonly author: UserSummary;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
}

export interface HistoryView {
  readonly id: string;
  readonly status: TicketStatus;
  readonly actor: UserSummary;
  readonly at: number;
}

export interface TicketView extends TicketFacts {
  readonly id: string;
  readonly status: TicketStatus;
  readonly content: string;
  readonly imageIds: string[];
  readonly customerId: number;
  readonly staffId: number | null;
  readonly customer: UserSummary;
  readonly scheduler: UserSummary | null;
  readonly staff: UserSummary | null;
  /** Oldest first; undefined when the caller did not ask for them. */
  readonly replies?: ReplyView[];
  /** Oldest first; undefined when the caller did not ask for it. */
  readonly history?: HistoryView[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Which nested collections to aggregate; each costs work in the statement, so only on demand. */
export interface TicketInclude {
  readonly replies?: boolean;
  readonly history?: boolean;
}

export const INCLUDE_ALL: TicketInclude = { replies: true, history: true };

/** A time range: from `gte` (inclusive) to `lt` (exclusive), in ms since the epoch; either end open. */
export interface TimeRange {
  readonly gte?: number;
  readonly lt?: number;
}

/** Which tickets, within the viewer's visibility. Every condition narrows; all combine. */
export interface TicketFilter {
  /** Act only as this role (must be held); all of the viewer's roles when absent. */
  readonly as?: Role;
  /** Only these statuses; any when absent or empty. */
  readonly statuses?: readonly TicketStatus[];
  /** Only tickets assigned to this staff member. */
  readonly staffId?: number;
  /** true: only tickets assigned to nobody; false: only tickets assigned to someone. */
  readonly unassigned?: boolean;
  /** Only tickets this customer filed. */
  readonly customerId?: number;
  readonly createdAt?: TimeRange;
  readonly updatedAt?: TimeRange;
  /** Terms (ticket-search.ts `parseSearch`), each a substring of the content or of a reply not deleted. */
  readonly search?: readonly string[];
}

export interface TicketListQuery extends TicketFilter {
  /** Page size; undefined returns every matching ticket (legacy clients without paging). */
  readonly limit?: number;
  /** Skip this many (legacy `page`); keyset positions are preferred where possible. */
  readonly offset?: number;
  /**
   * The ordering; absent: ticket id descending (newest first by the time-ordered id: the legacy
   * lists' order, unchanged).
   */
  readonly order?: TicketOrder;
  /** Keyset (with `order`): only tickets strictly after this position in the ordering. */
  readonly after?: TicketPosition;
  /** Keyset (with `order`): only tickets strictly before this position in the ordering. */
  readonly before?: TicketPosition;
  /**
   * Take the page from the end (Relay `last`): the `limit` tickets closest to `before` (or the
   * last ones), still returned in the ordering's order.
   */
  readonly fromEnd?: boolean;
  readonly include?: TicketInclude;
}

/** How many tickets match, by status and (when asked) by assigned staff member. */
export interface TicketStatsView {
  readonly total: number;
  /** Every status, in docs/contract.md code order, zeros included. */
  readonly byStatus: Array<{ status: TicketStatus; count: number }>;
  /** Per staff member (staff null: unassigned), most tickets first; null when not asked for. */
  readonly byStaff: Array<{ staff: UserSummary | null; count: number }> | null;
}

export interface TicketPage {
  readonly tickets: TicketView[];
  /** True when more tickets match after this page. */
  readonly hasMore: boolean;
}

/** Row kinds of the read statement, in the order they arrive. */
const KIND_TICKET = 0;
const KIND_REPLY = 1;
const KIND_HISTORY = 2;
const KIND_USER = 3;

/**
 * The read statement's output columns, in order (rows arrive as arrays of them, see `ReadRow`).
 * Kinds share columns where their types agree, so each row is 12 values wide (it was 15, one
 * column per field; the pg driver's work per row and the garbage grow with the width); the
 * twelfth, a ticket's rank, replaced sorting the result in PostgreSQL (`readSql`).
 */
const READ_COLUMNS = ['kind', 'id', 'status', 'text', 'list', 'user_id', 'scheduler_id', 'staff_id', 'created_at', 'updated_at', 'ticket_id', 'ord'] as const;
const C_KIND = 0;
/** Ticket: its id; reply, history entry: theirs. */
const C_ID = 1;
/** Ticket, history entry: the status code. */
const C_STATUS = 2;
/** Ticket, reply: the content; user: the username. */
const C_TEXT = 3;
/** Ticket: the image ids; user: the roles. */
const C_LIST = 4;
/** Ticket: the customer; reply: the author; history entry: the actor; user: the user. */
const C_USER_ID = 5;
/** Ticket: the scheduler; user named by `readSql`'s `namedUser`: 1 when active, 0 when not. */
const C_SCHEDULER_ID = 6;
const C_STAFF_ID = 7;
/** Ticket, reply: created; history entry: when. Milliseconds since the epoch. */
const C_CREATED_AT = 8;
const C_UPDATED_AT = 9;
/** Reply, history entry: their ticket. */
const C_TICKET_ID = 10;
/** Ticket: its rank in the page's ordering (from 1, or from the offset + 1). */
const C_ORD = 11;

/**
 * The read statement around a page of tickets: `pageSql` selects the page's tickets (aliased
 * `t`, with `row_number() over (<its ordering>) as ord`). One result, in no particular order: the
 * tickets with their rank, (when included) their replies and history, and every user they mention,
 * once; `assemble` puts them in order. Columns are shared between kinds (`READ_COLUMNS`).
 *
 * The statement does not sort: `order by kind, ord, id` over the whole result made PostgreSQL copy
 * and sort every row, text included, about a tenth of its CPU per list page, where putting 50
 * tickets in place by rank and checking that each ticket's few entries arrived by id costs
 * JavaScript next to nothing (docs/performance.md, "Sixth round").
 */
/**
 * {@link TicketReader.lockForChange}'s statement for each of its eight shapes (replies, history,
 * a named user), built once: the same string object every time, so the write path's lookup of
 * its prepared name (db/write-transaction.ts) does not hash a freshly built text per write.
 */
const LOCK_SQL: (string | undefined)[] = [];

function readSql(pageSql: string, include: TicketInclude, options: { namedUser?: boolean } = {}): string {
  // Each lookup takes the page's ids as an array (an init plan computed once), so PostgreSQL
  // fetches the few rows it needs through the (ticket_id, id) indexes and users' primary key:
  // with `in (select id from page)` it hashed the page and scanned every reply and history entry.
  const replies = include.replies
    ? `, page_replies as (select r.id, r.ticket_id, r.author_id, r.content, r.created_at from replies r
        where r.ticket_id = any(array(select id from page)) and r.deleted_at is null)`
    : '';
  const history = include.history
    ? `, page_history as (select h.id, h.ticket_id, h.actor_id, h.status, h.at from ticket_history h
        where h.ticket_id = any(array(select id from page)))`
    : '';
  const mentioned = [
    'select customer_id from page',
    'select scheduler_id from page',
    'select staff_id from page',
    ...(include.replies ? ['select author_id from page_replies'] : []),
    ...(include.history ? ['select actor_id from page_history'] : []),
    // A user the caller names (the staff member of an assignment), as the last parameter.
    ...(options.namedUser ? ['select ?::int'] : []),
    // `union all`: `= any` matches each user once however often the array names them, and
    // removing the duplicates first only cost PostgreSQL a hash of every mention.
  ].join(' union all ');
  return `with page as (${pageSql})${replies}${history}
  select ${KIND_TICKET} as kind, p.id, p.status, p.content as text, p.image_ids::text[] as list, p.customer_id as user_id,
    p.scheduler_id, p.staff_id, ${epochMs('p.created_at')} as created_at, ${epochMs('p.updated_at')} as updated_at,
    null::uuid as ticket_id, p.ord::int as ord
  from page p
  ${include.replies ? `union all select ${KIND_REPLY}, r.id, null, r.content, null, r.author_id, null, null, ${epochMs('r.created_at')}, null, r.ticket_id, null from page_replies r` : ''}
  ${include.history ? `union all select ${KIND_HISTORY}, h.id, h.status, null, null, h.actor_id, null, null, ${epochMs('h.at')}, null, h.ticket_id, null from page_history h` : ''}
  union all select ${KIND_USER}, null, null, u.username, u.roles, u.id, ${options.namedUser ? 'u.active::int' : 'null'}, null, null, null, null, null
  from users u where u.id = any(array(${mentioned}))`;
}

/** The page's tickets (before `readSql` wraps them): every column `readSql` reads, and their rank. */
const PAGE_COLUMNS = 't.id, t.status, t.content, t.image_ids, t.customer_id, t.scheduler_id, t.staff_id, t.created_at, t.updated_at';

/** One row of the read statement: its values in `READ_COLUMNS` order; which are set depends on the kind. */
export type ReadRow = unknown[];

/** The views of the read statement's rows (in any order), in page order. */
export function assemble(rows: readonly ReadRow[], include: TicketInclude): TicketView[] {
  const users = new Map<number, UserSummary>();
  for (const row of rows) {
    if (row[C_KIND] !== KIND_USER) continue;
    const id = row[C_USER_ID] as number;
    users.set(id, { id, username: row[C_TEXT] as string, roles: row[C_LIST] as Role[] });
  }
  const userOf = (id: unknown): UserSummary => users.get(id as number)!;
  const tickets: TicketView[] = [];
  const ranks: number[] = [];
  let ranked = true;
  const byId = new Map<string, { replies: ReplyView[]; history: HistoryView[] }>();
  for (const row of rows) {
    if (row[C_KIND] !== KIND_TICKET) continue;
    const id = row[C_ID] as string;
    const replies: ReplyView[] = [];
    const history: HistoryView[] = [];
    byId.set(id, { replies, history });
    const schedulerId = row[C_SCHEDULER_ID];
    const staffId = row[C_STAFF_ID] as number | null;
    const rank = row[C_ORD] as number;
    if (ranks.length > 0 && rank < ranks[ranks.length - 1]!) ranked = false;
    ranks.push(rank);
    tickets.push({
      id,
      status: statusFromCode(row[C_STATUS] as number),
      content: row[C_TEXT] as string,
      imageIds: (row[C_LIST] as string[] | null) ?? [],
      customerId: row[C_USER_ID] as number,
      staffId,
      customer: userOf(row[C_USER_ID]),
      scheduler: schedulerId === null ? null : userOf(schedulerId),
      staff: staffId === null ? null : userOf(staffId),
      replies: include.replies ? replies : undefined,
      history: include.history ? history : undefined,
      createdAt: Number(row[C_CREATED_AT]),
      updatedAt: Number(row[C_UPDATED_AT]),
    });
  }
  // Page order is the rank's (`row_number()` of the page's ordering, counted before any offset).
  // They nearly always arrive in it; when not, one sort of the page's indexes.
  const page = ranked ? tickets : [...tickets.keys()].sort((a, b) => ranks[a]! - ranks[b]!).map((index) => tickets[index]!);
  for (const row of rows) {
    const kind = row[C_KIND];
    if (kind === KIND_REPLY) {
      const ticketId = row[C_TICKET_ID] as string;
      byId.get(ticketId)!.replies.push({
        id: row[C_ID] as string,
        ticketId,
        content: row[C_TEXT] as string,
        author: userOf(row[C_USER_ID]),
        createdAt: Number(row[C_CREATED_AT]),
      });
    } else if (kind === KIND_HISTORY) {
      byId.get(row[C_TICKET_ID] as string)!.history.push({
        id: row[C_ID] as string,
        status: statusFromCode(row[C_STATUS] as number),
        actor: userOf(row[C_USER_ID]),
        at: Number(row[C_CREATED_AT]),
      });
    }
  }
  for (const { replies, history } of byId.values()) {
    inIdOrder(replies);
    inIdOrder(history);
  }
  return page;
}

/**
 * Puts a ticket's replies or history entries in id order (oldest first: ids are UUIDv7), as the
 * statement no longer sorts them. They nearly always arrive so (read through the (ticket_id, id)
 * indexes), which one pass confirms. Canonical UUID texts of one length compare as their bytes,
 * which is how PostgreSQL orders the uuid type.
 */
export function inIdOrder<T extends { readonly id: string }>(entries: T[]): T[] {
  for (let i = 1; i < entries.length; i++) {
    if (entries[i - 1]!.id > entries[i]!.id) return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return entries;
}

/** Collects a WHERE clause and its positional parameters (knex-style `?`). */
class Where {
  readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  add(condition: string, ...params: unknown[]): this {
    this.conditions.push(condition);
    this.params.push(...params);
    return this;
  }

  toSql(): string {
    return this.conditions.length ? `where ${this.conditions.join(' and ')}` : '';
  }
}

/** A PostgreSQL array literal: knex would expand a JS array into a list of parameters. */
const pgArray = (values: readonly (string | number)[]): string => `{${values.join(',')}}`;

function addScope(where: Where, scope: VisibilityScope): void {
  const condition = visibilitySql(scope);
  if (condition) where.add(condition.sql, ...condition.params);
}

/**
 * The statuses hidden from an assigned staff member, written into the statement's text (the rule
 * table's constant, not a value): as a parameter, PostgreSQL's generic plan of a prepared list
 * statement guessed almost no ticket passes `<> all($n)`, so it expected the page to hold a few
 * rows, read every ticket of the table and sorted the staff member's (19,730 rows read for a page
 * of 50 in test/finding/viewer-page-plan.test.ts); with the codes in the text it estimates them
 * and walks (staff_id, created_at, id) for one page.
 */
const HIDDEN_FROM_STAFF_CODES = pgArray(HIDDEN_FROM_STAFF.map((status) => STATUS_CODE[status]));

/**
 * The rule table's visibility scope as a SQL condition on a ticket row aliased `t`; undefined
 * when the scope is every ticket. The ticket lists and the event log's replay both filter with it.
 */
export function visibilitySql(scope: VisibilityScope): { sql: string; params: unknown[] } | undefined {
  if (scope.all) return undefined;
  const alternatives: string[] = [];
  const params: unknown[] = [];
  if (scope.customerId !== undefined) {
    alternatives.push('t.customer_id = ?');
    params.push(scope.customerId);
  }
  if (scope.assignedStaffId !== undefined) {
    alternatives.push(`(t.staff_id = ? and not (t.status = any('${HIDDEN_FROM_STAFF_CODES}'::smallint[])))`);
    params.push(scope.assignedStaffId);
  }
  // A viewer with no role that sees anything sees nothing.
  return { sql: alternatives.length ? `(${alternatives.join(' or ')})` : 'false', params };
}

/** The column each ordering sorts by, and how its key is bound. */
const ORDER_KEYS: Record<TicketOrderField, { column: string; param: string }> = {
  [TicketOrderField.CREATED_AT]: { column: 't.created_at', param: '?::timestamptz' },
  [TicketOrderField.UPDATED_AT]: { column: 't.updated_at', param: '?::timestamptz' },
  [TicketOrderField.STATUS]: { column: 't.status', param: '?::smallint' },
};

/** Dates travel as ISO strings: exact to the millisecond, as the columns are. */
const keyParam = (field: TicketOrderField, key: number): string | number => (field === TicketOrderField.STATUS ? key : new Date(key).toISOString());

/** A ticket's place in an ordering (what its cursor carries). */
export function positionOf(ticket: TicketView, field: TicketOrderField): TicketPosition {
  const key = field === TicketOrderField.CREATED_AT ? ticket.createdAt : field === TicketOrderField.UPDATED_AT ? ticket.updatedAt : STATUS_CODE[ticket.status];
  return { key: Math.round(key), id: ticket.id };
}

function addRange(where: Where, column: string, range: TimeRange | undefined): void {
  if (range?.gte !== undefined) where.add(`${column} >= ?::timestamptz`, new Date(range.gte).toISOString());
  if (range?.lt !== undefined) where.add(`${column} < ?::timestamptz`, new Date(range.lt).toISOString());
}

interface StatsRow {
  status: number | null;
  staff_id: number | null;
  by_status: boolean;
  by_staff: boolean;
  count: number | string;
  staff: UserSummary | string | null;
}

/** Reads tickets as views. Stateless: every call takes the request's EntityManager. */
export class TicketReader {
  /** One ticket, or null when there is none with this id. Visibility is the caller's to check. */
  async findById(em: EntityManager, id: string, include: TicketInclude = INCLUDE_ALL): Promise<TicketView | null> {
    const sql = readSql(`select ${PAGE_COLUMNS}, 1 as ord from tickets t where t.id = ?`, include);
    const rows = await this.run(em, sql, [id], include);
    return rows[0] ?? null;
  }

  /**
   * One ticket under its row lock (`for update of t`: the ticket's row only, held until the
   * transaction ends), as a view, in one statement: what a write decides on and answers from.
   * With `userId`, that user's summary and `active` flag come along (ASSIGN's staff member).
   * The write path sends it in the same message as its write (db/write-transaction.ts
   * `executeAll`) and reads its rows with {@link lockedTicket}.
   */
  lockStatement(id: string, include: TicketInclude, userId?: number): SqlStatement {
    const withUser = userId !== undefined;
    const shape = (include.replies ? 1 : 0) | (include.history ? 2 : 0) | (withUser ? 4 : 0);
    const sql = (LOCK_SQL[shape] ??= readSql(`select ${PAGE_COLUMNS}, 1 as ord from tickets t where t.id = ? for update of t`, include, {
      namedUser: withUser,
    }));
    return { sql, params: withUser ? [id, userId] : [id] };
  }

  /** What {@link lockStatement} read: the ticket (null when there is none) and the named user (null when there is none). */
  lockedTicket(
    result: readonly unknown[],
    include: TicketInclude,
    userId?: number,
  ): { ticket: TicketView; user: (UserSummary & { active: boolean }) | null } | null {
    const rows = rowArrays(result as Record<string, unknown>[], READ_COLUMNS);
    const ticket = assemble(rows, include)[0];
    if (!ticket) return null;
    const named = userId === undefined ? undefined : rows.find((row) => row[C_KIND] === KIND_USER && row[C_USER_ID] === userId);
    return {
      ticket,
      user: named
        ? { id: named[C_USER_ID] as number, username: named[C_TEXT] as string, roles: named[C_LIST] as Role[], active: named[C_SCHEDULER_ID] === 1 }
        : null,
    };
  }

  /**
   * The viewer's tickets that match the filter, in one statement: ordered by `query.order` (ties
   * by id) and paged by keyset positions, or newest first by id for the legacy lists. Refuses
   * (FORBIDDEN) to act as a role the viewer does not hold, with the message the legacy endpoint
   * shares.
   */
  async list(em: EntityManager, viewer: Viewer, query: TicketListQuery): Promise<TicketPage> {
    const { sql, params } = this.listStatement(viewer, query);
    const rows = await this.run(em, sql, params, query.include ?? INCLUDE_ALL);
    const hasMore = query.limit !== undefined && rows.length > query.limit;
    const tickets = hasMore ? rows.slice(0, query.limit) : rows;
    if (query.order && query.fromEnd) tickets.reverse();
    return { tickets, hasMore };
  }

  /** The statement `list` runs (tests EXPLAIN it). */
  listStatement(viewer: Viewer, query: TicketListQuery): SqlStatement {
    const where = this.filter(viewer, query);
    const include = query.include ?? INCLUDE_ALL;
    let orderBy = 'order by t.id desc';
    if (query.order) {
      const { column, param } = ORDER_KEYS[query.order.field];
      const descending = query.order.direction === OrderDirection.DESC;
      // "After" is further along the ordering: smaller keys when it descends.
      const further = descending ? '<' : '>';
      const nearer = descending ? '>' : '<';
      if (query.after) where.add(`(${column}, t.id) ${further} (${param}, ?::uuid)`, keyParam(query.order.field, query.after.key), query.after.id);
      if (query.before) where.add(`(${column}, t.id) ${nearer} (${param}, ?::uuid)`, keyParam(query.order.field, query.before.key), query.before.id);
      // From the end, read the ordering backwards and turn the page around afterwards.
      const sqlDirection = descending !== Boolean(query.fromEnd) ? 'desc' : 'asc';
      orderBy = `order by ${column} ${sqlDirection}, t.id ${sqlDirection}`;
    }
    // The rank in the page's ordering travels with each ticket: the outer statement sorts by it.
    let page = `select ${PAGE_COLUMNS}, row_number() over (${orderBy}) as ord from tickets t ${where.toSql()} ${orderBy}`;
    const params = [...where.params];
    if (query.limit !== undefined) {
      // The page size is part of the statement's text, not a parameter: with `limit $n` PostgreSQL
      // costs the prepared statement's generic plan for a tenth of the table instead of a page,
      // never prefers it, and so plans the whole statement again at every execution (about a
      // fifth of its CPU on the list page). Page sizes are bounded (1 to 100), so are the texts.
      if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new Error(`Page size ${query.limit} is not a count`);
      page += ` limit ${query.limit + 1}`;
    }
    // An offset (the legacy lists' later pages) stays a parameter, unbounded as it is: those
    // statements are planned per execution.
    if (query.offset) {
      page += ' offset ?';
      params.push(query.offset);
    }
    return { sql: readSql(page, include), params };
  }

  /** How many tickets the filter matches, ignoring paging. */
  async count(em: EntityManager, viewer: Viewer, query: TicketFilter): Promise<number> {
    const { sql, params } = this.countStatement(viewer, query);
    const rows = await execute<Array<{ count: number | string }>>(em, sql, params);
    return Number(rows[0]?.count ?? 0);
  }

  /** The statement `count` runs. */
  countStatement(viewer: Viewer, query: TicketFilter): SqlStatement {
    const where = this.filter(viewer, query);
    return { sql: `select count(*)::int as count from tickets t ${where.toSql()}`, params: where.params };
  }

  /**
   * Counts of the tickets the filter matches, in one statement (grouping sets): the total, per
   * status, and with `byStaff` per assigned staff member.
   */
  async stats(em: EntityManager, viewer: Viewer, query: TicketFilter, options: { byStaff: boolean }): Promise<TicketStatsView> {
    const { sql, params } = this.statsStatement(viewer, query, options);
    const rows = await execute<StatsRow[]>(em, sql, params);
    const counts = new Map<number, number>();
    const byStaff: Array<{ staff: UserSummary | null; count: number }> = [];
    let total = 0;
    for (const row of rows) {
      const count = Number(row.count);
      if (row.by_status) counts.set(Number(row.status), count);
      else if (row.by_staff) byStaff.push({ staff: row.staff ? parsedJson(row.staff) : null, count });
      else total = count;
    }
    byStaff.sort((a, b) => b.count - a.count || (a.staff?.id ?? 0) - (b.staff?.id ?? 0));
    return {
      total,
      byStatus: Object.values(TicketStatus)
        .sort((a, b) => STATUS_CODE[a] - STATUS_CODE[b])
        .map((status) => ({ status, count: counts.get(STATUS_CODE[status]) ?? 0 })),
      byStaff: options.byStaff ? byStaff : null,
    };
  }

  /** The statement `stats` runs. */
  statsStatement(viewer: Viewer, query: TicketFilter, options: { byStaff: boolean }): SqlStatement {
    const where = this.filter(viewer, query);
    const sets = options.byStaff ? '(), (t.status), (t.staff_id)' : '(), (t.status)';
    const sql = `select g.status, g.staff_id, g.by_status, g.by_staff, g.count,
        case when u.id is null then null else ${userJson('u')} end as staff
      from (
        select t.status, ${options.byStaff ? 't.staff_id, grouping(t.staff_id) = 0' : 'null::integer as staff_id, false'} as by_staff,
          grouping(t.status) = 0 as by_status, count(*)::int as count
        from tickets t ${where.toSql()}
        group by grouping sets (${sets})
      ) g
      left join users u on g.by_staff and u.id = g.staff_id`;
    return { sql, params: where.params };
  }

  private filter(viewer: Viewer, query: TicketFilter): Where {
    if (query.as && !hasRole(viewer, query.as)) throw forbidden(MESSAGES.listAs(query.as));
    const where = new Where();
    addScope(where, visibilityScope(viewer, query.as ? [query.as] : viewer.roles));
    if (query.statuses?.length) {
      where.add('t.status = any(?::smallint[])', pgArray(query.statuses.map((status) => STATUS_CODE[status])));
    }
    if (query.staffId !== undefined) where.add('t.staff_id = ?', query.staffId);
    if (query.unassigned !== undefined) where.add(query.unassigned ? 't.staff_id is null' : 't.staff_id is not null');
    if (query.customerId !== undefined) where.add('t.customer_id = ?', query.customerId);
    addRange(where, 't.created_at', query.createdAt);
    addRange(where, 't.updated_at', query.updatedAt);
    for (const term of query.search ?? []) {
      // A union of two index-backed lookups (trigram GIN on each table), rather than an OR,
      // which would leave the planner a sequential scan of tickets; computed once as an array,
      // so the matching tickets are then fetched by primary key (`id = any(...)`), never by a
      // scan of every ticket.
      if (isBigramTerm(term)) {
        // Two characters: the bigram indexes narrow (a necessary condition), ILIKE decides.
        where.add(
          `t.id = any(array(select m.id from tickets m where search_bigrams(m.content) @> search_bigrams(?::text) and m.content ilike ?
            union select r.ticket_id from replies r where r.deleted_at is null and search_bigrams(r.content) @> search_bigrams(?::text)
              and r.content ilike ?))`,
          term,
          containsPattern(term),
          term,
          containsPattern(term),
        );
        continue;
      }
      where.add(
        `t.id = any(array(select m.id from tickets m where m.content ilike ?
          union select r.ticket_id from replies r where r.deleted_at is null and r.content ilike ?))`,
        containsPattern(term),
        containsPattern(term),
      );
    }
    return where;
  }

  private async run(em: EntityManager, sql: string, params: readonly unknown[], include: TicketInclude): Promise<TicketView[]> {
    // Prepared: the statement's text depends only on the filter's shape, and planning it cost
    // PostgreSQL about as much as running it (docs/performance.md).
    return assemble(await executePreparedArrays(em, sql, params, READ_COLUMNS), include);
  }
}
