import type { EntityManager } from '@mikro-orm/core';
import { forbidden } from '../../shared/errors';
import { Role } from '../user/role';
import { hasRole, Viewer } from '../user/viewer';
import { STATUS_CODE, statusFromCode, TicketStatus } from './ticket-status';
import { HIDDEN_FROM_STAFF, MESSAGES, TicketFacts, VisibilityScope, visibilityScope } from './ticket.rules';

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

export interface TicketListQuery {
  /** Act only as this role (must be held); all of the viewer's roles when absent. */
  readonly as?: Role;
  /** Only these statuses; any when absent or empty. */
  readonly statuses?: readonly TicketStatus[];
  /** Page size; undefined returns every matching ticket (legacy clients without paging). */
  readonly limit?: number;
  /** Keyset: tickets strictly older than this ticket id. */
  readonly before?: string;
  /** Skip this many (legacy `page`); keyset `before` is preferred where possible. */
  readonly offset?: number;
  readonly include?: TicketInclude;
}

export interface TicketPage {
  readonly tickets: TicketView[];
  /** True when more tickets match after this page. */
  readonly hasMore: boolean;
}

const userJson = (alias: string): string =>
  `json_build_object('id', ${alias}.id, 'username', ${alias}.username, 'roles', ${alias}.roles)`;

const epochMs = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

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

/** Drivers differ on whether json arrives parsed; accept both. */
const parsedJson = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

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

/** Reads tickets as views. Stateless: every call takes the request's EntityManager. */
export class TicketReader {
  /** One ticket, or null when there is none with this id. Visibility is the caller's to check. */
  async findById(em: EntityManager, id: string, include: TicketInclude = INCLUDE_ALL): Promise<TicketView | null> {
    const rows = await this.run(em, `${selectSql(include)} where t.id = ?`, [id]);
    return rows[0] ?? null;
  }

  /**
   * The viewer's tickets, newest first. Refuses (FORBIDDEN) to act as a role the viewer does not
   * hold, with the message the legacy endpoint shares.
   */
  async list(em: EntityManager, viewer: Viewer, query: TicketListQuery): Promise<TicketPage> {
    const where = this.filter(viewer, query);
    if (query.before) where.add('t.id < ?', query.before);
    const include = query.include ?? INCLUDE_ALL;
    let sql = `${selectSql(include)} ${where.toSql()} order by t.id desc`;
    const params = [...where.params];
    if (query.limit !== undefined) {
      sql += ' limit ?';
      params.push(query.limit + 1);
    }
    if (query.offset) {
      sql += ' offset ?';
      params.push(query.offset);
    }
    const rows = await this.run(em, sql, params);
    const hasMore = query.limit !== undefined && rows.length > query.limit;
    return { tickets: hasMore ? rows.slice(0, query.limit) : rows, hasMore };
  }

  /** How many tickets the list query matches, ignoring paging. */
  async count(em: EntityManager, viewer: Viewer, query: Pick<TicketListQuery, 'as' | 'statuses'>): Promise<number> {
    const where = this.filter(viewer, query);
    const rows = await em
      .getConnection()
      .execute<Array<{ count: number | string }>>(`select count(*)::int as count from tickets t ${where.toSql()}`, where.params, 'all');
    return Number(rows[0]?.count ?? 0);
  }

  private filter(viewer: Viewer, query: Pick<TicketListQuery, 'as' | 'statuses'>): Where {
    if (query.as && !hasRole(viewer, query.as)) throw forbidden(MESSAGES.listAs(query.as));
    const where = new Where();
    addScope(where, visibilityScope(viewer, query.as ? [query.as] : viewer.roles));
    if (query.statuses?.length) {
      where.add('t.status = any(?::smallint[])', pgArray(query.statuses.map((status) => STATUS_CODE[status])));
    }
    return where;
  }

  private async run(em: EntityManager, sql: string, params: unknown[]): Promise<TicketView[]> {
    const rows = await em.getConnection().execute<TicketRow[]>(sql, params, 'all', em.getTransactionContext());
    return rows.map(toView);
  }
}
