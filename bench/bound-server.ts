import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool } from 'pg';
import { BOUND_FILTERED_SQL, BOUND_PAGE_SQL, BOUND_STATS_SQL, boundSearchSql } from './bound-sql';
import { FLOOR_ENTRIES_SQL, FLOOR_USERS_SQL, floorPage, floorPageSql, mentionedUsers, type FloorScope, type FloorViewer } from './floor';
import { announceReady, serveCommands } from './ipc';
import { PAGE_SIZE, SEARCH_PAGE_SIZE, SEARCH_TERM, SHORT_SEARCH_TERM } from './queries';

/**
 * The SQL bound as a server: every request runs BOUND_PAGE_SQL (or, on /filtered, /search,
 * /search-short and /stats, the finding targets' bounds) and answers its text. node:http and the database driver, nothing else: no framework, no GraphQL,
 * no authentication (the viewer is fixed by BOUND_VIEWER_ID and BOUND_VIEWER_ROLES).
 *
 * On PostgreSQL it uses a pool of 10 (the app's size) and a named prepared statement; on the
 * embedded database it opens the same PGlite data directory the app uses, which is why the two
 * never run at the same time.
 *
 * `/floor` serves the same page the cheapest correct way (floor.ts): three plain prepared
 * statements on one connection, JSON assembled in JavaScript. `/floor/customer` and
 * `/floor/staff` serve the list page of the customer (BOUND_CUSTOMER_ID, BOUND_CUSTOMER_ROLES)
 * and of the staff member (BOUND_STAFF_ID, BOUND_STAFF_ROLES) the same way: their own tickets.
 */
type Run = (name: string, sql: string, params: unknown[]) => Promise<string>;
type Rows = Array<Record<string, unknown>>;
/** Runs the floor's three statements on one connection: the viewer's page, its replies and history, the users they mention. */
type Floor = (pageSize: number, viewer: FloorViewer) => Promise<{ page: Rows; entries: Rows; users: Rows }>;

/**
 * The floor's three statements, in order, through `query` (a named prepared statement on
 * PostgreSQL, PGlite's own on the embedded database): the viewer's page (its statement's only
 * parameter the viewer, when the page is theirs only), then its replies and history, then the
 * users they mention.
 */
async function floorRows(
  query: (name: string, text: string, values: unknown[]) => Promise<Rows>,
  pageSize: number,
  viewer: FloorViewer,
): Promise<{ page: Rows; entries: Rows; users: Rows }> {
  const page = await query(`floor-page-${viewer.scope}-${pageSize}`, floorPageSql(viewer.scope, pageSize + 1), viewer.scope === 'all' ? [] : [viewer.id]);
  const shown = page.slice(0, pageSize);
  const ids = `{${shown.map((row) => row.id as string).join(',')}}`;
  const entries = await query('floor-entries', FLOOR_ENTRIES_SQL, [ids]);
  const users = await query('floor-users', FLOOR_USERS_SQL, [mentionedUsers(shown, entries)]);
  return { page, entries, users };
}

/** The statement each path runs (the finding targets' bounds have their own paths). */
const STATEMENTS: Record<string, { name: string; sql: string }> = {
  '/graphql': { name: 'bound-page', sql: BOUND_PAGE_SQL },
  '/filtered': { name: 'bound-filtered', sql: BOUND_FILTERED_SQL },
  '/search': { name: 'bound-search', sql: boundSearchSql(SEARCH_TERM, SEARCH_PAGE_SIZE) },
  '/search-short': { name: 'bound-search-short', sql: boundSearchSql(SHORT_SEARCH_TERM, SEARCH_PAGE_SIZE) },
  '/stats': { name: 'bound-stats', sql: BOUND_STATS_SQL },
};

async function openDatabase(): Promise<{ run: Run; floor: Floor; close: () => Promise<void> }> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    return {
      run: async (name, text, values) => {
        const result = await pool.query<{ body: string }>({ name, text, values });
        return result.rows[0]!.body;
      },
      floor: async (pageSize, viewer) => {
        const client = await pool.connect();
        try {
          return await floorRows(async (name, text, values) => (await client.query({ name, text, values })).rows as Rows, pageSize, viewer);
        } finally {
          client.release();
        }
      },
      close: () => pool.end(),
    };
  }
  const dataDir = process.env.DATA_DIR;
  if (!dataDir) throw new Error('DATA_DIR or DATABASE_URL is required');
  const pglite = new PGlite({ dataDir: path.join(dataDir, 'pglite'), extensions: { pg_trgm } });
  await pglite.waitReady;
  return {
    run: async (_name, sql, values) => {
      const result = await pglite.query<{ body: string }>(sql, values);
      return result.rows[0]!.body;
    },
    floor: (pageSize, viewer) => floorRows(async (_name, sql, values) => (await pglite.query<Record<string, unknown>>(sql, values)).rows, pageSize, viewer),
    close: () => pglite.close(),
  };
}

async function main(): Promise<void> {
  const viewerId = Number(process.env.BOUND_VIEWER_ID);
  const roles = `{${process.env.BOUND_VIEWER_ROLES ?? ''}}`;
  if (!Number.isInteger(viewerId)) throw new Error('BOUND_VIEWER_ID is required');
  const staffId = Number(process.env.BOUND_STAFF_ID);
  const viewer = { id: viewerId, roles: (process.env.BOUND_VIEWER_ROLES ?? '').split(','), scope: 'all' as const };
  const ownViewer = (id: string | undefined, roles: string | undefined, scope: FloorScope): FloorViewer | undefined =>
    Number.isInteger(Number(id)) && roles ? { id: Number(id), roles: roles.split(','), scope } : undefined;
  /** The floor's list page for each viewer: the scheduler's, and the customer's and staff member's own. */
  const floors = new Map<string, FloorViewer>([['/floor', viewer]]);
  const customer = ownViewer(process.env.BOUND_CUSTOMER_ID, process.env.BOUND_CUSTOMER_ROLES, 'customer');
  const staff = ownViewer(process.env.BOUND_STAFF_ID, process.env.BOUND_STAFF_ROLES, 'staff');
  if (customer) floors.set('/floor/customer', customer);
  if (staff) floors.set('/floor/staff', staff);
  const database = await openDatabase();
  let queries = 0;
  let baseUrl = '';

  const server = createServer((request, response) => {
    request.resume();
    request.once('end', () => {
      const floorViewer = floors.get(request.url ?? '');
      if (floorViewer) {
        queries += 3;
        database.floor(PAGE_SIZE, floorViewer).then(
          ({ page, entries, users }) => {
            const body = floorPage(page, entries, users, floorViewer, baseUrl, PAGE_SIZE);
            response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
            response.end(body);
          },
          (error: unknown) => {
            process.stderr.write(`floor query failed: ${error instanceof Error ? error.message : String(error)}\n`);
            response.writeHead(500).end();
          },
        );
        return;
      }
      queries++;
      const statement = STATEMENTS[request.url ?? ''] ?? STATEMENTS['/graphql']!;
      const params = statement.name === 'bound-page' ? [viewerId, roles, baseUrl, PAGE_SIZE] : statement.name === 'bound-filtered' ? [staffId] : [];
      database.run(statement.name, statement.sql, params).then(
        (body) => {
          response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
          response.end(body);
        },
        (error: unknown) => {
          process.stderr.write(`bound query failed: ${error instanceof Error ? error.message : String(error)}\n`);
          response.writeHead(500).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  let counting = false;
  serveCommands({
    count(enabled) {
      const counted = counting ? queries : 0;
      counting = enabled;
      queries = 0;
      return counted;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  });
  announceReady(baseUrl);
}

main().catch((error) => {
  process.stderr.write(`bound server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
