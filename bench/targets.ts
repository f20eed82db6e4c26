import { encodeCredential } from '../src/modules/auth/credential';
import {
  ADD_REPLY,
  DETAIL,
  filteredPage,
  graphqlBody,
  LIST_PAGE,
  PAGE_SIZE,
  REQUEST_INFORMATION,
  SEARCH_TERM,
  SHORT_SEARCH_TERM,
  searchPage,
  START_PROCESSING,
  STATS,
  statusesQuery,
} from './queries';
import { BENCH_PASSWORD, type BenchUser, type SeedResult } from './seed';

/**
 * What the benchmark measures, one target at a time. A target is one kind of request sent over
 * and over by `connections` clients; targets that write generate a fresh, valid request each
 * time (the workflow must accept every one of them, or the number would measure refusals).
 */
export interface Target {
  /** Short, stable name (the table's first column and the `--targets` filter). */
  readonly name: string;
  readonly description: string;
  /** Which process serves it: the reference servers, the product, or an earlier build of it (`--before`). */
  readonly server: 'bound' | 'app' | 'before';
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The next request body. */
  nextBody(): string;
  /** The bound target this one's ratio is taken to (default `sql-bound`). */
  readonly bound?: string;
  /** The floor target this one's `× floor` ratio is taken to (default `floor`, the scheduler's list page): the same page the cheapest way. */
  readonly floor?: string;
  /** Whether bodies differ from request to request (writes); reads send one fixed body. */
  readonly dynamic?: boolean;
  /** Whether a response body is a success (GraphQL errors come with HTTP 200). */
  isSuccess(status: number, body: string): boolean;
  /**
   * Run before each warm-up and counting pass, against the listening server: brings generated
   * requests in line with the database, or returns why the target cannot run here.
   */
  prepare?(url: string): Promise<string | undefined>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

const graphqlSuccess = (status: number, body: string): boolean => status === 200 && body.startsWith('{"data":');

/** Sends one request of a target, as the load generator would. */
export async function send(url: string, target: Target, body = target.nextBody()): Promise<{ status: number; body: string }> {
  const response = await fetch(url + target.path, { method: 'POST', headers: target.headers, body });
  return { status: response.status, body: await response.text() };
}

/** A GraphQL request outside the measurement (preparation); throws on any error. */
async function graphql<T>(url: string, credential: string, query: string): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, authorization: `Credential ${credential}` },
    body: graphqlBody(query),
  });
  const result = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (!result.data || result.errors) throw new Error(`GraphQL preparation failed: ${JSON.stringify(result.errors ?? result)}`);
  return result.data;
}

function graphqlTarget(
  name: string,
  description: string,
  credential: string,
  nextBody: () => string,
  { prepare, dynamic = false }: Pick<Target, 'prepare' | 'dynamic'> = {},
): Target {
  return {
    name,
    description,
    server: 'app',
    path: '/graphql',
    headers: { ...JSON_HEADERS, authorization: `Credential ${credential}` },
    nextBody,
    dynamic,
    isSuccess: graphqlSuccess,
    prepare,
  };
}

/** The legacy endpoint may not exist yet in this checkout: then the target says so and is skipped. */
function legacyTarget(name: string, description: string, fields: Record<string, unknown>): Target {
  const body = JSON.stringify({ ...fields, status: 'ALL', page: 1, 'page-size': PAGE_SIZE });
  return {
    name,
    description,
    server: 'app',
    path: '/api/ticket',
    headers: JSON_HEADERS,
    nextBody: () => body,
    isSuccess: (status, text) => status === 200 && text.startsWith('{"count":'),
    async prepare(url) {
      const response = await fetch(`${url}/api/ticket`, { method: 'POST', headers: JSON_HEADERS, body });
      if (response.status === 404) return `not available: POST /api/ticket answers 404 (${(await response.text()).slice(0, 80)})`;
      return undefined;
    },
  };
}

type TransitionName = 'requestInformation' | 'startProcessing';

/**
 * requestInformation and startProcessing, alternately, on the old tickets assigned to one staff
 * member, as that staff member: ASSIGNED/IN_PROCESSING → REQUEST_INFORMATION → IN_PROCESSING →
 * … always legal. The pool is walked round-robin and is much larger than the number of
 * connections, so a ticket's previous transition has completed before its next one is sent.
 */
function transitionTarget(user: BenchUser, credential: string, pool: readonly string[]): Target {
  const next = new Map<string, TransitionName>();
  let position = 0;
  return graphqlTarget(
    'mutation-transition',
    `requestInformation / startProcessing as ${user.username}, ${pool.length} tickets round-robin`,
    credential,
    () => {
      const id = pool[position++ % pool.length]!;
      const operation = next.get(id) ?? 'requestInformation';
      next.set(id, operation === 'requestInformation' ? 'startProcessing' : 'requestInformation');
      return graphqlBody(operation === 'requestInformation' ? REQUEST_INFORMATION : START_PROCESSING, { id });
    },
    {
      dynamic: true,
      async prepare(url) {
        // Read where each ticket is now (a failed request would otherwise desynchronise the walk).
        for (let offset = 0; offset < pool.length; offset += 10) {
          const ids = pool.slice(offset, offset + 10);
          const data = await graphql<Record<string, { id: string; status: string }>>(url, credential, statusesQuery(ids));
          for (const ticket of Object.values(data)) {
            next.set(ticket.id, ticket.status === 'REQUEST_INFORMATION' ? 'startProcessing' : 'requestInformation');
          }
        }
        return undefined;
      },
    },
  );
}

function replyTarget(user: BenchUser, credential: string, pool: readonly string[]): Target {
  let position = 0;
  return graphqlTarget(
    'mutation-addReply',
    `addReply as ${user.username} on their ${pool.length} old open tickets`,
    credential,
    () => {
      const n = position++;
      return graphqlBody(ADD_REPLY, {
        ticketId: pool[n % pool.length],
        content: `Benchmark reply ${n}: still happening after the update, see the attached log.`,
      });
    },
    { dynamic: true },
  );
}

/** A floor (floor.ts): the list page of one viewer, served by the bound server on `path`. */
function floorTarget(name: string, path: string, description: string, page: string): Target {
  return { name, description, server: 'bound', path, headers: JSON_HEADERS, floor: name, nextBody: () => page, isSuccess: graphqlSuccess };
}

/** Every target, in the order the table lists them. */
export function buildTargets(seed: SeedResult, key: Buffer): Target[] {
  const credential = (user: BenchUser) => encodeCredential(user.username, BENCH_PASSWORD, key);
  const page = graphqlBody(LIST_PAGE);
  const detail = graphqlBody(DETAIL, { id: seed.detailTicketId });
  const scheduler = credential(seed.scheduler);
  return [
    floorTarget(
      'floor',
      '/floor',
      `the floor: three plain prepared statements (page with users, replies, history), JSON assembled in JavaScript, node:http (list page as ${seed.scheduler.username})`,
      page,
    ),
    floorTarget(
      'floor-customer',
      '/floor/customer',
      `the floor of gql-list-customer: the same, the list page of ${seed.customer.username} (the tickets they created)`,
      page,
    ),
    floorTarget(
      'floor-staff',
      '/floor/staff',
      `the floor of gql-list-staff: the same, the list page of ${seed.staff.username} (the tickets assigned to them, except while NEW)`,
      page,
    ),
    {
      name: 'sql-bound',
      description: `reference: one hand-written json_agg statement that builds the whole response in PostgreSQL, over node:http (list page as ${seed.scheduler.username})`,
      server: 'bound',
      path: '/graphql',
      headers: JSON_HEADERS,
      nextBody: () => page,
      // PostgreSQL's json_build_object writes `"data" : {`: the same JSON, a few more bytes.
      isSuccess: (status, body) => status === 200 && /^\{\s*"data"\s*:/.test(body),
    },
    graphqlTarget('gql-list-scheduler', `tickets(first: ${PAGE_SIZE}) as ${seed.scheduler.username}`, scheduler, () => page),
    {
      ...graphqlTarget('gql-list-customer', `tickets(first: ${PAGE_SIZE}) as ${seed.customer.username}`, credential(seed.customer), () => page),
      floor: 'floor-customer',
    },
    { ...graphqlTarget('gql-list-staff', `tickets(first: ${PAGE_SIZE}) as ${seed.staff.username}`, credential(seed.staff), () => page), floor: 'floor-staff' },
    graphqlTarget('gql-detail', `ticket(id) of the newest ticket as ${seed.scheduler.username}`, scheduler, () => detail),
    legacyTarget('legacy-scheduler-list', `scheduler-list, page 1 of ${PAGE_SIZE}, as ${seed.scheduler.username}`, {
      action: 'scheduler-list',
      credential: scheduler,
      operator: 'scheduler',
    }),
    legacyTarget('legacy-list-customer', `list as customer, page 1 of ${PAGE_SIZE}, as ${seed.customer.username}`, {
      action: 'list',
      credential: credential(seed.customer),
      operator: 'customer',
    }),
    legacyTarget('legacy-list-staff', `list as staff, page 1 of ${PAGE_SIZE}, as ${seed.staff.username}`, {
      action: 'list',
      credential: credential(seed.staff),
      operator: 'staff',
    }),
    ...findingTargets(seed, scheduler),
    transitionTarget(seed.opsStaff, credential(seed.opsStaff), seed.transitionPool),
    replyTarget(seed.opsCustomer, credential(seed.opsCustomer), seed.replyPool),
  ];
}

/**
 * Issue 12's targets, each beside its own SQL bound (bound-sql.ts) that returns the same JSON:
 * a filtered page (one staff member's open tickets, oldest first), a search (Chinese, in content
 * and replies), the same search by a two-character term and the counts, all as the scheduler.
 */
function findingTargets(seed: SeedResult, scheduler: string): Target[] {
  const pairs: Array<[name: string, path: string, description: string, query: string]> = [
    [
      'filtered',
      '/filtered',
      `tickets of staff ${seed.staff.username} in ASSIGNED/IN_PROCESSING/REQUEST_INFORMATION, oldest first, ${PAGE_SIZE} per page`,
      filteredPage(seed.staff.id),
    ],
    ['search', '/search', `tickets(filter: { search: "${SEARCH_TERM}" }), content and replies, newest first`, searchPage(SEARCH_TERM)],
    [
      'search-short',
      '/search-short',
      `tickets(filter: { search: "${SHORT_SEARCH_TERM}" }), two characters (no trigram index serves it), newest first`,
      searchPage(SHORT_SEARCH_TERM),
    ],
    ['stats', '/stats', 'ticketStats: total, by status, by staff member', STATS],
  ];
  return pairs.flatMap(([name, path, description, query]) => {
    const body = graphqlBody(query);
    return [
      {
        name: `sql-bound-${name}`,
        description: `the hand-written statement that answers gql-${name}'s JSON, over node:http`,
        server: 'bound' as const,
        path,
        headers: JSON_HEADERS,
        bound: `sql-bound-${name}`,
        nextBody: () => body,
        isSuccess: (status: number, text: string) => status === 200 && /^\{\s*"data"\s*:/.test(text),
      },
      { ...graphqlTarget(`gql-${name}`, description, scheduler, () => body), bound: `sql-bound-${name}` },
    ];
  });
}
