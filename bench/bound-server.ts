import { PGlite } from '@electric-sql/pglite';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool } from 'pg';
import { BOUND_PAGE_SQL } from './bound-sql';
import { announceReady, serveCommands } from './ipc';
import { PAGE_SIZE } from './queries';

/**
 * The SQL bound as a server: every request, whatever its path or body, runs BOUND_PAGE_SQL and
 * answers its text. node:http and the database driver, nothing else: no framework, no GraphQL,
 * no authentication (the viewer is fixed by BOUND_VIEWER_ID and BOUND_VIEWER_ROLES).
 *
 * On PostgreSQL it uses a pool of 10 (the app's size) and a named prepared statement; on the
 * embedded database it opens the same PGlite data directory the app uses, which is why the two
 * never run at the same time.
 */
type Run = (params: unknown[]) => Promise<string>;

async function openDatabase(): Promise<{ run: Run; close: () => Promise<void> }> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    return {
      run: async (values) => {
        const result = await pool.query<{ body: string }>({ name: 'bound-page', text: BOUND_PAGE_SQL, values });
        return result.rows[0]!.body;
      },
      close: () => pool.end(),
    };
  }
  const dataDir = process.env.DATA_DIR;
  if (!dataDir) throw new Error('DATA_DIR or DATABASE_URL is required');
  const pglite = new PGlite({ dataDir: path.join(dataDir, 'pglite') });
  await pglite.waitReady;
  return {
    run: async (values) => {
      const result = await pglite.query<{ body: string }>(BOUND_PAGE_SQL, values);
      return result.rows[0]!.body;
    },
    close: () => pglite.close(),
  };
}

async function main(): Promise<void> {
  const viewerId = Number(process.env.BOUND_VIEWER_ID);
  const roles = `{${process.env.BOUND_VIEWER_ROLES ?? ''}}`;
  if (!Number.isInteger(viewerId)) throw new Error('BOUND_VIEWER_ID is required');
  const database = await openDatabase();
  let queries = 0;
  let baseUrl = '';

  const server = createServer((request, response) => {
    request.resume();
    request.once('end', () => {
      queries++;
      database.run([viewerId, roles, baseUrl, PAGE_SIZE]).then(
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
