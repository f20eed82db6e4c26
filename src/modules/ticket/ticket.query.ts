import type { EntityManager } from '@mikro-orm/core';
import { forbidden } from '../../shared/errors';
import { Role } from '../user/role';
import { hasRole, Viewer } from '../user/viewer';
import { STATUS_CODE, statusFromCode, TicketStatus } from './ticket-status';
import { OrderDirection, TicketOrder, TicketOrderField, TicketPosition } from './ticket-order';
import { containsPattern } from './ticket-search';
import { HIDDEN_FROM_STAFF, MESSAGES, TicketFacts, VisibilityScope, visibilityScope } from './ticket.rules';
import { execute } from '../../db/sql';
import { epochMs, parsedJson, userJson } from '../../db/sql-json';

/**
 * The read path. Reads are the hot path of the product, so they never hydrate entities: one SQL
 * statement returns a whole page of tickets with their users, replies and history already
 * aggregated as JSON (STACK.md: hydration was the main cost of a nested page), and permission
 * flags are computed from the rows afterwards. A page costs the same number of statements
 * whatever its size.
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

const REPLIES_SQL = `(
  select coalesce(json_agg(json_build_object(
      'id', r.id, 'ticketId', r.ticket_id, 'content', r.content,
      'createdAt', ${epochMs('r.created_at')}, 'author', ${userJson('ra')}) order by r.id), '[]'::json)
  from replies r join users ra on ra.id = r.author_id
  where r.ticket_id = t.id and r.deleted_at is null)`;

const HISTORY_SQL = `(
  select coalesce(json_agg(json_build_object(
      'id', h.id, 'status', h.status, 'at', ${epochMs('h.at')}, 'actor', ${userJson('ha')}) order by h.id), '[]'::json)
  from ticket_history h join users ha on ha.id = h.actor_id
  where h.ticket_id = t.id)`;

function selectSql(include: TicketInclude): string {
  return `select t.id, t.status, t.content, t.image_ids, t.customer_id, t.staff_id,
    ${epochMs('t.created_at')} as created_at, ${epochMs('t.updated_at')} as updated_at,
    ${userJson('c')} as customer,
    case when s.id is null then null else ${userJson('s')} end as scheduler,
    case when st.id is null then null else ${userJson('st')} end as staff
    ${include.replies ? `, ${REPLIES_SQL} as replies` : ''}
    ${include.history ? `, ${HISTORY_SQL} as history` : ''}
  from tickets t
  join users c on c.id = t.customer_id
  left join users s on s.id = t.scheduler_id
  left join users st on st.id = t.staff_id`;
}

interface TicketRow {
  id: string;
  status: number;
  content: string;
  image_ids: string[];
  customer_id: number;
  staff_id: number | null;
  created_at: number;
  updated_at: number;
  customer: UserSummary;
  scheduler: UserSummary | null;
  staff: UserSummary | null;
  replies?: ReplyView[] | string;
  history?: Array<Omit<HistoryView, 'status'> & { status: number }> | string;
}

function toView(row: TicketRow): TicketView {
  return {
    id: row.id,
    status: statusFromCode(row.status),
    content: row.content,
    imageIds: row.image_ids ?? [],
    customerId: row.customer_id,
    staffId: row.staff_id,
    customer: parsedJson(row.customer),
    scheduler: row.scheduler ? parsedJson(row.scheduler) : null,
    staff: row.staff ? parsedJson(row.staff) : null,
    replies: row.replies === undefined ? undefined : parsedJson(row.replies),
    history:
      row.history === undefined
        ? undefined
        : parsedJson(row.history).map((entry) => ({ ...entry, status: statusFromCode(entry.status) })),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
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
    alternatives.push('(t.staff_id = ? and not (t.status = any(?::smallint[])))');
    params.push(scope.assignedStaffId, pgArray(HIDDEN_FROM_STAFF.map((status) => STATUS_CODE[status])));
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
const keyParam = (field: TicketOrderField, key: number): string | number =>
  field === TicketOrderField.STATUS ? key : new Date(key).toISOString();

/** A ticket's place in an ordering (what its cursor carries). */
export function positionOf(ticket: TicketView, field: TicketOrderField): TicketPosition {
  const key =
    field === TicketOrderField.CREATED_AT ? ticket.createdAt : field === TicketOrderField.UPDATED_AT ? ticket.updatedAt : STATUS_CODE[ticket.status];
  return { key: Math.round(key), id: ticket.id };
}

function addRange(where: Where, column: string, range: TimeRange | undefined): void {
  if (range?.gte !== undefined) where.add(`${column} >= ?::timestamptz`, new Date(range.gte).toISOString());
  if (range?.lt !== undefined) where.add(`${column} < ?::timestamptz`, new Date(range.lt).toISOString());
}

/** One SQL statement and its positional (`?`) parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
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
    const rows = await this.run(em, `${selectSql(include)} where t.id = ?`, [id]);
    return rows[0] ?? null;
  }

  /**
   * The viewer's tickets that match the filter, in one statement: ordered by `query.order` (ties
   * by id) and paged by keyset positions, or newest first by id for the legacy lists. Refuses
   * (FORBIDDEN) to act as a role the viewer does not hold, with the message the legacy endpoint
   * shares.
   */
  async list(em: EntityManager, viewer: Viewer, query: TicketListQuery): Promise<TicketPage> {
    const { sql, params } = this.listStatement(viewer, query);
    const rows = await this.run(em, sql, params);
    const hasMore = query.limit !== undefined && rows.length > query.limit;
    const tickets = hasMore ? rows.slice(0, query.limit) : rows;
    if (query.order && query.fromEnd) tickets.reverse();
    return { tickets, hasMore };
  }

  /** The statement `list` runs (tests EXPLAIN it). */
  listStatement(viewer: Viewer, query: TicketListQuery): Statement {
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
    let sql = `${selectSql(include)} ${where.toSql()} ${orderBy}`;
    const params = [...where.params];
    if (query.limit !== undefined) {
      sql += ' limit ?';
      params.push(query.limit + 1);
    }
    if (query.offset) {
      sql += ' offset ?';
      params.push(query.offset);
    }
    return { sql, params };
  }

  /** How many tickets the filter matches, ignoring paging. */
  async count(em: EntityManager, viewer: Viewer, query: TicketFilter): Promise<number> {
    const { sql, params } = this.countStatement(viewer, query);
    const rows = await execute<Array<{ count: number | string }>>(em, sql, params);
    return Number(rows[0]?.count ?? 0);
  }

  /** The statement `count` runs. */
  countStatement(viewer: Viewer, query: TicketFilter): Statement {
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
  statsStatement(viewer: Viewer, query: TicketFilter, options: { byStaff: boolean }): Statement {
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
      where.add(
        `t.id = any(array(select m.id from tickets m where m.content ilike ?
          union select r.ticket_id from replies r where r.deleted_at is null and r.content ilike ?))`,
        containsPattern(term),
        containsPattern(term),
      );
    }
    return where;
  }

  private async run(em: EntityManager, sql: string, params: unknown[]): Promise<TicketView[]> {
    const rows = await execute<TicketRow[]>(em, sql, params);
    return rows.map(toView);
  }
}
