/**
 * The floor (issue 15): the cheapest correct way this machine serves the list page. Three plain
 * prepared statements (the page of tickets with their three users, the page's replies with their
 * authors, the page's history with its actors), rows as the driver hands them, and the response
 * assembled in JavaScript from plain objects with one `JSON.stringify`. No GraphQL, no ORM, no
 * JSON built by the database: every byte of JSON is made once, in the process that sends it.
 *
 * The permission flags repeat the rule table (ticket.rules.ts) in a few lines, as bound-sql.ts
 * repeats it in SQL; the benchmark compares this answer with the product's byte for byte before
 * it trusts a ratio, so a drift shows up as a mismatch instead of a flattering number.
 */

/** Parameters: $1 page size + 1 (one more row says whether a next page exists). */
export const FLOOR_PAGE_SQL = `
select t.id, t.status, t.content, t.image_ids, t.customer_id, t.staff_id,
  (extract(epoch from t.created_at) * 1000)::float8 as created_at,
  (extract(epoch from t.updated_at) * 1000)::float8 as updated_at,
  c.id as c_id, c.username as c_username, c.roles as c_roles,
  s.id as s_id, s.username as s_username, s.roles as s_roles,
  st.id as st_id, st.username as st_username, st.roles as st_roles
from tickets t
join users c on c.id = t.customer_id
left join users s on s.id = t.scheduler_id
left join users st on st.id = t.staff_id
order by t.created_at desc, t.id desc
limit $1::int`;

/** Parameters: $1 the page's ticket ids (uuid[]). Ordered by ticket, then id (oldest first). */
export const FLOOR_REPLIES_SQL = `
select r.id, r.ticket_id, r.content, (extract(epoch from r.created_at) * 1000)::float8 as created_at,
  a.id as a_id, a.username as a_username, a.roles as a_roles
from replies r join users a on a.id = r.author_id
where r.ticket_id = any($1::uuid[]) and r.deleted_at is null
order by r.ticket_id, r.id`;

export const FLOOR_HISTORY_SQL = `
select h.id, h.ticket_id, h.status, (extract(epoch from h.at) * 1000)::float8 as at,
  a.id as a_id, a.username as a_username, a.roles as a_roles
from ticket_history h join users a on a.id = h.actor_id
where h.ticket_id = any($1::uuid[])
order by h.ticket_id, h.id`;

type Row = Record<string, unknown>;

/** Status codes to GraphQL enum names (SPEC "Statuses"), index = code. */
const STATUS = ['', 'NEW', 'ASSIGNED', 'FIXED', 'CLOSED', 'REOPEN', 'REQUEST_INFORMATION', 'CANCEL', 'IN_PROCESSING'];

const iso = (ms: unknown): string => new Date(ms as number).toISOString();

const user = (row: Row, prefix: string) =>
  row[`${prefix}_id`] == null ? null : { id: String(row[`${prefix}_id`]), username: row[`${prefix}_username`] as string, roles: row[`${prefix}_roles`] as string[] };

export interface FloorViewer {
  readonly id: number;
  readonly roles: readonly string[];
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

/** The list page's JSON, as the product answers it, from the three statements' rows. */
export function floorPage(
  pageRows: readonly Row[],
  replyRows: readonly Row[],
  historyRows: readonly Row[],
  viewer: FloorViewer,
  baseUrl: string,
  pageSize: number,
): string {
  const replies = groupByTicket(replyRows);
  const history = groupByTicket(historyRows);
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
        customer: user(t, 'c'),
        scheduler: user(t, 's'),
        staff: user(t, 'st'),
        createdAt: iso(createdAt),
        updatedAt: iso(t.updated_at),
        replies: (replies.get(id) ?? []).map((r) => ({ id: r.id, content: r.content, author: user(r, 'a'), createdAt: iso(r.created_at) })),
        history: (history.get(id) ?? []).map((h) => ({ id: h.id, status: STATUS[h.status as number], actor: user(h, 'a'), at: iso(h.at) })),
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
