/**
 * The SQL bound: one hand-written statement that returns, as text, exactly the JSON response of
 * the GraphQL list page (`queries.ts` LIST_PAGE) for one viewer, permission flags included.
 * Served over bare node:http it is as fast as this page can be with this schema and database:
 * no GraphQL, no resolvers, no ORM, JSON built by PostgreSQL. It lives in the benchmark only.
 *
 * The permission flags repeat the rule table (ticket.rules.ts) in SQL. That duplication is
 * acceptable here because the benchmark compares this statement's answer with the server's
 * before measuring, so a drift shows up as a mismatch instead of a flattering number.
 *
 * Parameters: $1 viewer id, $2 viewer roles (a text[] literal such as `{SCHEDULER}`),
 * $3 base of image URLs, $4 page size.
 */

const user = (alias: string): string => `json_build_object('id', ${alias}.id::text, 'username', ${alias}.username, 'roles', ${alias}.roles)`;

/** GraphQLDateTime's form: ISO 8601 in UTC with milliseconds. */
const iso = (column: string): string => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Status codes to GraphQL enum names (SPEC "Statuses"). */
const STATUS_NAMES = `(array['NEW','ASSIGNED','FIXED','CLOSED','REOPEN','REQUEST_INFORMATION','CANCEL','IN_PROCESSING'])`;

const NODE = `json_build_object(
  'id', t.id,
  'status', ${STATUS_NAMES}[t.status],
  'content', t.content,
  'images', (select coalesce(json_agg($3::text || '/images/' || i.id order by i.n), '[]'::json)
             from unnest(t.image_ids) with ordinality as i(id, n)),
  'customer', ${user('c')},
  'scheduler', case when s.id is null then null else ${user('s')} end,
  'staff', case when st.id is null then null else ${user('st')} end,
  'createdAt', ${iso('t.created_at')},
  'updatedAt', ${iso('t.updated_at')},
  'replies', (select coalesce(json_agg(json_build_object(
                 'id', r.id, 'content', r.content, 'author', ${user('ra')}, 'createdAt', ${iso('r.created_at')}) order by r.id), '[]'::json)
              from replies r join users ra on ra.id = r.author_id
              where r.ticket_id = t.id and r.deleted_at is null),
  'history', (select coalesce(json_agg(json_build_object(
                 'id', h.id, 'status', ${STATUS_NAMES}[h.status], 'actor', ${user('ha')}, 'at', ${iso('h.at')}) order by h.id), '[]'::json)
              from ticket_history h join users ha on ha.id = h.actor_id
              where h.ticket_id = t.id),
  'permissions', json_build_object(
    'reply', rel.reader and t.status not in (4, 7),
    'edit', rel.owner and t.status in (1, 5, 6),
    'assign', rel.scheduler and t.status in (1, 5, 2, 8, 6),
    'startProcessing', rel.assignee and t.status in (2, 6),
    'requestInformation', (rel.assignee or rel.scheduler) and t.status in (2, 8),
    'fix', rel.assignee and t.status in (2, 8),
    'close', rel.scheduler and t.status = 3,
    'reopen', rel.owner and t.status in (3, 4),
    'cancel', (rel.owner or rel.scheduler) and t.status in (1, 2, 5, 6, 8)))`;

// ---------------------------------------------------------------------------------------------
// Bounds of the finding targets (issue 12): each returns exactly the JSON of its GraphQL query
// (queries.ts), as the scheduler sees it. $1 is the staff member of the filtered page.

/** The API's keyset cursor (ticket-order.ts): base64url of `ticket2:<field>:<dir>:<ms>:<id>`. */
const keysetCursor = (direction: 'ASC' | 'DESC', alias: string): string =>
  `translate(encode(convert_to('ticket2:CREATED_AT:${direction}:' || (extract(epoch from ${alias}.created_at) * 1000)::bigint || ':' || ${alias}.id::text, 'UTF8'), 'base64'), E'+/=\n', '-_')`;

const ROW = (alias: string): string => `json_build_object(
  'id', ${alias}.id, 'status', ${STATUS_NAMES}[${alias}.status], 'content', ${alias}.content,
  'createdAt', ${iso(`${alias}.created_at`)}, 'updatedAt', ${iso(`${alias}.updated_at`)},
  'customer', json_build_object('id', c.id::text, 'username', c.username),
  'staff', case when st.id is null then null else json_build_object('id', st.id::text, 'username', st.username) end)`;

function keysetPage(matching: string, direction: 'ASC' | 'DESC', pageSize: number): string {
  const dir = direction.toLowerCase();
  return `
with page as (select * from tickets t where ${matching} order by t.created_at ${dir}, t.id ${dir} limit ${pageSize + 1}),
shown as (select * from page p order by p.created_at ${dir}, p.id ${dir} limit ${pageSize})
select json_build_object('data', json_build_object('tickets', json_build_object(
  'edges', coalesce((
    select json_agg(json_build_object('cursor', ${keysetCursor(direction, 't')}, 'node', ${ROW('t')}) order by t.created_at ${dir}, t.id ${dir})
    from shown t
    join users c on c.id = t.customer_id
    left join users st on st.id = t.staff_id), '[]'::json),
  'pageInfo', json_build_object(
    'hasNextPage', (select count(*) > ${pageSize} from page),
    'endCursor', (select ${keysetCursor(direction, 'x')} from shown x order by x.created_at ${direction === 'ASC' ? 'desc' : 'asc'}, x.id ${direction === 'ASC' ? 'desc' : 'asc'} limit 1))
)))::text as body`;
}

/** One staff member's open tickets (ASSIGNED, IN_PROCESSING, REQUEST_INFORMATION), oldest first. */
export const BOUND_FILTERED_SQL = keysetPage('t.staff_id = $1::int and t.status in (2, 8, 6)', 'ASC', 50);

/** Tickets whose content or a reply not deleted contains the term, newest first. */
export const boundSearchSql = (term: string, pageSize: number): string => {
  // A two-character term with a character outside ASCII is looked up in the bigram indexes, as
  // the API does (migration 20261207000000), else in the trigram indexes.
  const narrow = (alias: string) => ([...term].length === 2 ? `search_bigrams(${alias}.content) @> search_bigrams('${term}') and ` : '');
  return keysetPage(
    `t.id in (select m.id from tickets m where ${narrow('m')}m.content ilike '%${term}%'
      union select r.ticket_id from replies r where r.deleted_at is null and ${narrow('r')}r.content ilike '%${term}%')`,
    'DESC',
    pageSize,
  );
};

/** Counts of every ticket by status (all eight, in code order) and by staff member, most first. */
export const BOUND_STATS_SQL = `
with by_status as (select status, count(*)::int as n from tickets group by status),
by_staff as (select staff_id, count(*)::int as n from tickets group by staff_id)
select json_build_object('data', json_build_object('ticketStats', json_build_object(
  'total', (select count(*)::int from tickets),
  'byStatus', (select json_agg(json_build_object('status', ${STATUS_NAMES}[g], 'count', coalesce(s.n, 0)) order by g)
               from generate_series(1, 8) g left join by_status s on s.status = g),
  'byStaff', (select json_agg(json_build_object(
                 'staff', case when u.id is null then null else json_build_object('id', u.id::text, 'username', u.username) end,
                 'count', b.n) order by b.n desc, coalesce(b.staff_id, 0))
              from by_staff b left join users u on u.id = b.staff_id)
)))::text as body`;

/** The list page for a viewer who sees every ticket (a scheduler), newest first. */
export const BOUND_PAGE_SQL = `
with page as (select * from tickets order by created_at desc, id desc limit $4::int + 1),
shown as (select * from page order by created_at desc, id desc limit $4::int)
select json_build_object('data', json_build_object('tickets', json_build_object(
  'edges', coalesce((
    select json_agg(json_build_object('cursor', ${keysetCursor('DESC', 't')}, 'node', ${NODE}) order by t.created_at desc, t.id desc)
    from shown t
    join users c on c.id = t.customer_id
    left join users s on s.id = t.scheduler_id
    left join users st on st.id = t.staff_id
    cross join lateral (
      select 'CUSTOMER' = any($2::text[]) and t.customer_id = $1::int as owner,
             'STAFF' = any($2::text[]) and t.staff_id = $1::int as assignee,
             'SCHEDULER' = any($2::text[]) as scheduler,
             'SCHEDULER' = any($2::text[])
               or ('CUSTOMER' = any($2::text[]) and t.customer_id = $1::int)
               or ('STAFF' = any($2::text[]) and t.staff_id = $1::int and t.status <> 1) as reader
    ) rel), '[]'::json),
  'pageInfo', json_build_object(
    'hasNextPage', (select count(*) > $4::int from page),
    'endCursor', (select ${keysetCursor('DESC', 'x')} from shown x order by x.created_at, x.id limit 1))
)))::text as body`;
