/**
 * The floor (issue 15): the cheapest correct way this machine serves the list page. Three plain
 * prepared statements (the page of tickets, the page's replies and history, every user they
 * mention once), rows as the driver hands them, and the response
 * assembled in JavaScript from plain objects with one `JSON.stringify`. No GraphQL, no ORM, no
 * JSON built by the database: every byte of JSON is made once, in the process that sends it.
 *
 * The permission flags repeat the rule table (ticket.rules.ts) in a few lines, as bound-sql.ts
 * repeats it in SQL; the benchmark compares this answer with the product's byte for byte before
 * it trusts a ratio, so a drift shows up as a mismatch instead of a flattering number.
 */

/**
 * Which tickets a floor page lists: every ticket (a scheduler), or the viewer's own as the
 * product's visibility rule has them (docs/contract.md "Who sees what"): a customer the tickets
 * they created, a staff member those assigned to them except while NEW (status 1).
 */
export type FloorScope = 'all' | 'customer' | 'staff';

const SCOPE_CONDITION: Record<FloorScope, string> = {
  all: '',
  customer: 'where t.customer_id = $1::int',
  staff: 'where t.staff_id = $1::int and t.status <> 1',
};

/**
 * The page of `rows` tickets (the page size + 1: one more row says whether a next page exists),
 * the row count in the text as the product's statement has it (ticket.query.ts): with `limit $n`
 * PostgreSQL would plan the statement at every execution. Parameter: $1 the viewer's id unless
 * the scope is `all`.
 */
export const floorPageSql = (scope: FloorScope, rows: number): string => `
select t.id, t.status, t.content, t.image_ids, t.customer_id, t.scheduler_id, t.staff_id,
  (extract(epoch from t.created_at) * 1000)::float8 as created_at,
  (extract(epoch from t.updated_at) * 1000)::float8 as updated_at
from tickets t ${SCOPE_CONDITION[scope]}
order by t.created_at desc, t.id desc
limit ${Math.trunc(rows)}`;

/**
 * Parameters: $1 the page's ticket ids (uuid[]). Replies (kind 'r') and history (kind 'h') of
 * the page in one result, each by id (oldest first); `user_id` is the author or the actor.
 */
export const FLOOR_ENTRIES_SQL = `
select 'r' as kind, r.id, r.ticket_id, r.content, null::smallint as status,
  (extract(epoch from r.created_at) * 1000)::float8 as at, r.author_id as user_id
from replies r where r.ticket_id = any($1::uuid[]) and r.deleted_at is null
union all
select 'h', h.id, h.ticket_id, null, h.status, (extract(epoch from h.at) * 1000)::float8, h.actor_id
from ticket_history h where h.ticket_id = any($1::uuid[])
order by kind, id`;

/** Parameters: $1 the ids of every user the page mentions (int[]). */
export const FLOOR_USERS_SQL = 'select id, username, roles from users where id = any($1::int[])';

type Row = Record<string, unknown>;

/** Status codes to GraphQL enum names (SPEC "Statuses"), index = code. */
const STATUS = ['', 'NEW', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPEN', 'REQUEST_INFORMATION', 'CANCEL', 'IN_PROCESSING'];

const iso = (ms: unknown): string => new Date(ms as number).toISOString();

export interface FloorViewer {
  readonly id: number;
  readonly roles: readonly string[];
  /** The tickets this viewer's list page holds. */
  readonly scope: FloorScope;
}

/** Rows of one ticket id, in the order the statement returned them. */
function groupByTicket(rows: readonly Row[]): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const id = row.ticket_id as string;
    const group = groups.get(id);
    if (group) group.push(row);
    else groups.set(id, [row]);
  }
  return groups;
}

/** The ids of every user the page and its entries mention, as an int[] literal. */
export function mentionedUsers(pageRows: readonly Row[], entryRows: readonly Row[]): string {
  const ids = new Set<number>();
  for (const t of pageRows) {
    ids.add(t.customer_id as number);
    if (t.scheduler_id !== null) ids.add(t.scheduler_id as number);
    if (t.staff_id !== null) ids.add(t.staff_id as number);
  }
  for (const e of entryRows) ids.add(e.user_id as number);
  return `{${[...ids].join(',')}}`;
}

/** The list page's JSON, as the product answers it, from the three statements' rows. */
export function floorPage(
  pageRows: readonly Row[],
  entryRows: readonly Row[],
  userRows: readonly Row[],
  viewer: FloorViewer,
  baseUrl: string,
  pageSize: number,
): string {
  const users = new Map<number, { id: string; username: string; roles: string[] }>();
  for (const u of userRows) users.set(u.id as number, { id: String(u.id), username: u.username as string, roles: u.roles as string[] });
  const user = (id: unknown) => (id === null ? null : users.get(id as number)!);
  const replies = groupByTicket(entryRows.filter((e) => e.kind === 'r'));
  const history = groupByTicket(entryRows.filter((e) => e.kind === 'h'));
  const isCustomer = viewer.roles.includes('CUSTOMER');
  const isStaff = viewer.roles.includes('STAFF');
  const scheduler = viewer.roles.includes('SCHEDULER');
  const shown = pageRows.length > pageSize ? pageRows.slice(0, pageSize) : pageRows;
  const edges = shown.map((t) => {
    const id = t.id as string;
    const status = t.status as number;
    const createdAt = t.created_at as number;
    const owner = isCustomer && t.customer_id === viewer.id;
    const assignee = isStaff && t.staff_id === viewer.id;
    const reader = scheduler || owner || (assignee && status !== 1);
    return {
      cursor: Buffer.from(`ticket2:CREATED_AT:DESC:${Math.round(createdAt)}:${id}`).toString('base64url'),
      node: {
        id,
        status: STATUS[status],
        content: t.content,
        images: ((t.image_ids as string[] | null) ?? []).map((image) => `${baseUrl}/images/${image}`),
        customer: user(t.customer_id),
        scheduler: user(t.scheduler_id),
        staff: user(t.staff_id),
        createdAt: iso(createdAt),
        updatedAt: iso(t.updated_at),
        replies: (replies.get(id) ?? []).map((r) => ({ id: r.id, content: r.content, author: user(r.user_id), createdAt: iso(r.at) })),
        history: (history.get(id) ?? []).map((h) => ({ id: h.id, status: STATUS[h.status as number], actor: user(h.user_id), at: iso(h.at) })),
        permissions: {
          reply: reader && status !== 4 && status !== 7,
          edit: owner && (status === 1 || status === 5 || status === 6),
          assign: scheduler && (status === 1 || status === 5 || status === 2 || status === 8 || status === 6),
          startProcessing: assignee && (status === 2 || status === 6),
          requestInformation: (assignee || scheduler) && (status === 2 || status === 8),
          fix: assignee && (status === 2 || status === 8),
          close: scheduler && status === 3,
          reopen: owner && (status === 3 || status === 4),
          cancel: (owner || scheduler) && (status === 1 || status === 2 || status === 5 || status === 6 || status === 8),
        },
      },
    };
  });
  // Apollo ends its JSON responses with a newline; the comparison is byte for byte.
  return `${JSON.stringify({
    data: { tickets: { edges, pageInfo: { hasNextPage: pageRows.length > pageSize, endCursor: edges.at(-1)?.cursor ?? null } } },
  })}\n`;
}
