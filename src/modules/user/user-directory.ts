import type { EntityManager } from '@mikro-orm/core';
import { execute, type SqlStatement } from '../../db/sql';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { STATUS_CODE, TicketStatus } from '../ticket/ticket-status';
import { normalizeRoles, Role } from './role';
import { hasRole, type Viewer } from './viewer';

/**
 * The user directory (issue 11): schedulers and administrators list and look up users (an
 * assignee picker, an administrator's user list); everyone else sees only themselves. Reads are
 * plain SQL like the ticket reads: no entity hydration on a page.
 */

/** A user as the directory shows them. */
export interface DirectoryUser {
  readonly id: number;
  readonly username: string;
  readonly roles: Role[];
  readonly active: boolean;
  readonly isAdmin: boolean;
  /** ms since the epoch. */
  readonly createdAt: number;
}

export interface UserFilter {
  /** Users holding any of these roles. */
  readonly roles?: readonly Role[];
  /** Case-insensitive substring of the username. */
  readonly search?: string;
  readonly active?: boolean;
}

export interface DirectoryPage {
  readonly users: DirectoryUser[];
  readonly hasMore: boolean;
}

/** Statuses in which an assigned ticket is work on the staff member's desk: their load. */
export const OPEN_ASSIGNED_STATUSES: readonly TicketStatus[] = [TicketStatus.ASSIGNED, TicketStatus.IN_PROCESSING, TicketStatus.REQUEST_INFORMATION];

export const MAX_SEARCH_LENGTH = 64;
const CURSOR_PREFIX = 'user:';

/** Who may browse the directory and see everyone's details (load, admin flag, creation time). */
export const canBrowseDirectory = (viewer: Viewer): boolean => viewer.isAdmin || hasRole(viewer, Role.SCHEDULER);

/** Whether `viewer` may see the admin flag and creation time of user `userId`. */
export const canSeeDetailsOf = (viewer: Viewer, userId: number): boolean => viewer.id === userId || canBrowseDirectory(viewer);

const DIRECTORY_FORBIDDEN = 'You are not allowed to list users';

/** Opaque cursors: base64url of `user:<username>` (the list is in username order). */
export const encodeUserCursor = (username: string): string => Buffer.from(CURSOR_PREFIX + username).toString('base64url');

export function decodeUserCursor(cursor: string, field: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const username = decoded.slice(CURSOR_PREFIX.length);
  if (!decoded.startsWith(CURSOR_PREFIX) || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(username)) {
    throw badInput(field, `${field} is not a cursor this API returned`);
  }
  return username;
}

/** `%`, `_` and `\` match themselves in a search, not as LIKE wildcards. */
export const likePattern = (term: string): string => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function normalizeSearch(search: string | undefined | null): string | undefined {
  if (search === undefined || search === null) return undefined;
  const term = search.trim();
  if (term.length > MAX_SEARCH_LENGTH) throw badInput('search', `search must be at most ${MAX_SEARCH_LENGTH} characters`);
  return term.length ? term : undefined;
}

const pgArray = (values: readonly (string | number)[]): string => `{${values.join(',')}}`;

interface UserRow {
  id: number;
  username: string;
  roles: Role[];
  active: boolean;
  is_admin: boolean;
  created_at: number;
}

const USER_COLUMNS = `u.id, u.username, u.roles, u.active, u.is_admin, (extract(epoch from u.created_at) * 1000)::float8 as created_at`;

const toDirectoryUser = (row: UserRow): DirectoryUser => ({
  id: Number(row.id),
  username: row.username,
  roles: normalizeRoles(row.roles),
  active: row.active,
  isAdmin: row.is_admin,
  createdAt: Number(row.created_at),
});

function whereOf(filter: UserFilter): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.roles?.length) {
    conditions.push('u.roles && ?::text[]');
    params.push(pgArray(normalizeRoles(filter.roles)));
  }
  const search = normalizeSearch(filter.search);
  if (search !== undefined) {
    // Served by users_username_trgm_idx (terms of 3 characters or more).
    conditions.push(`u.username ilike ? escape '\\'`);
    params.push(likePattern(search));
  }
  if (filter.active !== undefined) {
    conditions.push('u.active = ?');
    params.push(filter.active);
  }
  return { sql: conditions.length ? `where ${conditions.join(' and ')}` : '', params };
}

/** The page of `list`: the filter's users after `after` in username order, one more than `limit`. */
export function pageStatement(filter: UserFilter, page: { limit: number; after?: string }): SqlStatement {
  const where = whereOf(filter);
  const conditions = where.sql ? [where.sql] : [];
  const params = [...where.params];
  if (page.after !== undefined) {
    conditions.push(`${where.sql ? 'and' : 'where'} u.username > ?`);
    params.push(page.after);
  }
  return { sql: `select ${USER_COLUMNS} from users u ${conditions.join(' ')} order by u.username limit ?`, params: [...params, page.limit + 1] };
}

/** The count of `count`: every user the filter matches. */
export function countStatement(filter: UserFilter): SqlStatement {
  const where = whereOf(filter);
  return { sql: `select count(*)::int as count from users u ${where.sql}`, params: where.params };
}

export class UserDirectory {
  /**
   * A page of users in username order. Schedulers and administrators only.
   *
   * @throws DomainError FORBIDDEN for anyone else, BAD_INPUT for a search over 64 characters.
   */
  async list(em: EntityManager, viewer: Viewer, filter: UserFilter, page: { limit: number; after?: string }): Promise<DirectoryPage> {
    if (!canBrowseDirectory(viewer)) throw forbidden(DIRECTORY_FORBIDDEN);
    const statement = pageStatement(filter, page);
    const rows = await execute<UserRow[]>(em, statement.sql, statement.params);
    const hasMore = rows.length > page.limit;
    return { users: rows.slice(0, page.limit).map(toDirectoryUser), hasMore };
  }

  /** How many users match the filter, ignoring paging. */
  async count(em: EntityManager, viewer: Viewer, filter: UserFilter): Promise<number> {
    if (!canBrowseDirectory(viewer)) throw forbidden(DIRECTORY_FORBIDDEN);
    const statement = countStatement(filter);
    const rows = await execute<Array<{ count: number | string }>>(em, statement.sql, statement.params);
    return Number(rows[0]?.count ?? 0);
  }

  /**
   * One user: anyone for schedulers and administrators, oneself for everyone else.
   *
   * @throws DomainError FORBIDDEN for another user's id, NOT_FOUND when there is no such user.
   */
  async find(em: EntityManager, viewer: Viewer, id: number): Promise<DirectoryUser> {
    if (!canSeeDetailsOf(viewer, id)) throw forbidden('You are not allowed to see other users');
    const user = await this.byId(em, id);
    if (!user) throw notFound('User not found');
    return user;
  }

  /** One user without any permission check (the services' own reads). */
  async byId(em: EntityManager, id: number): Promise<DirectoryUser | undefined> {
    const rows = await execute<UserRow[]>(em, `select ${USER_COLUMNS} from users u where u.id = ?`, [id]);
    return rows[0] ? toDirectoryUser(rows[0]) : undefined;
  }

  /** Many users at once, by id (field resolvers batch through {@link userFacts}). */
  async byIds(em: EntityManager, ids: readonly number[]): Promise<Map<number, DirectoryUser>> {
    const rows = await execute<UserRow[]>(em, `select ${USER_COLUMNS} from users u where u.id = any(?::int[])`, [pgArray(ids)]);
    return new Map(rows.map((row) => [Number(row.id), toDirectoryUser(row)]));
  }

  /** Open tickets assigned to each of these users (0 for none), in one statement. */
  async openAssignedCounts(em: EntityManager, ids: readonly number[]): Promise<Map<number, number>> {
    const rows = await execute<Array<{ staff_id: number; count: number | string }>>(
      em,
      `select staff_id, count(*)::int as count from tickets
        where staff_id = any(?::int[]) and status = any(?::smallint[]) group by staff_id`,
      [pgArray(ids), pgArray(OPEN_ASSIGNED_STATUSES.map((status) => STATUS_CODE[status]))],
    );
    const counts = new Map(ids.map((id) => [id, 0]));
    for (const row of rows) counts.set(Number(row.staff_id), Number(row.count));
    return counts;
  }
}

/**
 * Batches the per-user lookups of one request (or one event on a socket): every `User` field that
 * is not on the object at hand (a ticket's staff member's `active`, a directory page's loads)
 * waits for the end of the tick, and then one statement answers all of them. Keyed by the
 * request's EntityManager fork, so results never outlive the request.
 */
class UserFactsLoader {
  private readonly users: TickBatch<DirectoryUser | undefined>;
  private readonly counts: TickBatch<number>;

  constructor(em: EntityManager, directory: UserDirectory) {
    this.users = new TickBatch((ids) => directory.byIds(em, ids), undefined);
    this.counts = new TickBatch((ids) => directory.openAssignedCounts(em, ids), 0);
  }

  user(id: number): Promise<DirectoryUser | undefined> {
    return this.users.load(id);
  }

  openAssigned(id: number): Promise<number> {
    return this.counts.load(id);
  }
}

/**
 * One kind of per-user answer, batched: the ids asked for in one tick are fetched together by one
 * call of `fetch`, and each id's answer is kept (an id fetch does not answer gets `missing`).
 */
class TickBatch<Answer> {
  private readonly answers = new Map<number, Promise<Answer>>();
  private pending: Array<{ id: number; resolve: (answer: Answer) => void; reject: (error: unknown) => void }> = [];

  constructor(
    private readonly fetch: (ids: number[]) => Promise<ReadonlyMap<number, Answer>>,
    private readonly missing: Answer,
  ) {}

  load(id: number): Promise<Answer> {
    let answer = this.answers.get(id);
    if (!answer) {
      answer = new Promise((resolve, reject) => {
        if (this.pending.push({ id, resolve, reject }) === 1) afterTick(() => this.flush());
      });
      this.answers.set(id, answer);
    }
    return answer;
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.fetch(batch.map((each) => each.id)).then(
      (found) => batch.forEach((each) => each.resolve(found.get(each.id) ?? this.missing)),
      (error: unknown) => batch.forEach((each) => each.reject(error)),
    );
  }
}

/** After every resolver of this tick has asked (DataLoader's scheduling). */
const afterTick = (run: () => void): void => {
  void Promise.resolve().then(() => process.nextTick(run));
};

const loaders = new WeakMap<EntityManager, UserFactsLoader>();

/** The batching loader of one request's (or one socket event's) EntityManager. */
export function userFacts(em: EntityManager, directory: UserDirectory): UserFactsLoader {
  let loader = loaders.get(em);
  if (!loader) loaders.set(em, (loader = new UserFactsLoader(em, directory)));
  return loader;
}
