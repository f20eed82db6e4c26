import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { dumpEmbedded, restoreEmbedded } from '../../src/db/embedded-backup';
import { createTicketAs, gqlOk, PNG_BYTES, snapshot, upload } from '../support/http';
import { createPostgresDatabase, PASSWORD, startServer, type TestServer } from '../support/server';

/**
 * Backup and restore round trips (docs/operations.md): what an operator restores reads back the
 * same through the API, the event log goes on after its last seq, and new writes work.
 *  - embedded: `dumpEmbedded` (PGlite's pg_dump) of a stopped server, restored into a fresh data
 *    directory, and into a PostgreSQL server with psql (moving from embedded to PostgreSQL);
 *  - PostgreSQL: pg_dump -Fc of a running server, pg_restore into a fresh database.
 */
const ROOT = path.resolve(__dirname, '../..');
const STATE = path.join(ROOT, '.test-state', `backup-${randomBytes(4).toString('hex')}`);
const PUBLIC_URL = 'http://helpdesk.test';
const withPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;

interface Written {
  ids: string[];
  snapshots: Array<Record<string, unknown>>;
}

/** Tickets with a reply, an image and history, and the scheduler's view of each. */
async function writeSome(server: TestServer): Promise<Written> {
  const uploaded = await upload(server, server.users.customer, [{ bytes: PNG_BYTES }]);
  expect(uploaded.status).toBe(201);
  const ids = [
    await createTicketAs(server, server.users.customer, 'printer on fire', uploaded.body.urls),
    await createTicketAs(server, server.users.otherCustomer, '水 in the keyboard'),
  ];
  await gqlOk(server, server.users.customer, 'mutation($id: ID!) { addReply(ticketId: $id, content: "still burning") { id } }', { id: ids[0] });
  await gqlOk(server, server.users.scheduler, 'mutation($id: ID!, $staff: ID!) { assignTicket(id: $id, staffId: $staff) { id } }', {
    id: ids[1],
    staff: String(server.users.staff.id),
  });
  return { ids, snapshots: await read(server, ids) };
}

const read = (server: TestServer, ids: string[]) => Promise.all(ids.map((id) => snapshot(server, server.users.scheduler, id)));

/** The restored server: the same key, users as restored (none created). */
async function startRestored(options: { dataDir?: string; databaseUrl?: string }, key: Buffer, original: TestServer): Promise<TestServer> {
  const server = await startServer(options.databaseUrl ? 'postgres' : 'embedded', {
    bare: true,
    config: { ...options, credentialKey: key, publicUrl: PUBLIC_URL },
  });
  for (const [name, user] of Object.entries(original.users)) {
    if (name === 'admin') continue;
    (server.users as Record<string, unknown>)[name] = { ...user, credential: server.credential(user.username, PASSWORD) };
  }
  return server;
}

/** The restored database reads back the same and takes new writes (sequences restored too). */
async function expectSame(restored: TestServer, written: Written): Promise<void> {
  expect(await read(restored, written.ids)).toEqual(written.snapshots);
  const fresh = await createTicketAs(restored, restored.users.customer, 'after the restore');
  expect(written.ids).not.toContain(fresh);
  const list = await gqlOk(restored, restored.users.scheduler, '{ tickets(first: 5) { totalCount } }');
  expect(list.tickets.totalCount).toBe(written.ids.length + 1);
}

beforeAll(() => mkdirSync(STATE, { recursive: true }));
afterAll(() => rmSync(STATE, { recursive: true, force: true }));

describe('embedded database backup', () => {
  const key = randomBytes(32);
  const original = path.join(STATE, 'embedded-original');
  const dump = path.join(STATE, 'embedded.sql');
  let server: TestServer | undefined;
  let written: Written;

  beforeAll(async () => {
    server = await startServer('embedded', { config: { dataDir: original, credentialKey: key, publicUrl: PUBLIC_URL } });
    written = await writeSome(server);
    // The server must be stopped: one process per PGlite data directory.
    await server.close();
    const bytes = await dumpEmbedded(original, dump);
    expect(bytes).toBe(statSync(dump).size);
  }, 120_000);

  it('restores into a fresh data directory, reads back the same and takes new writes', async () => {
    const target = path.join(STATE, 'embedded-restored');
    await restoreEmbedded(target, dump);
    const restored = await startRestored({ dataDir: target }, key, server!);
    try {
      await expectSame(restored, written);
    } finally {
      await restored.close();
    }
  }, 120_000);

  it('refuses to restore over an existing database', async () => {
    await expect(restoreEmbedded(original, dump)).rejects.toThrow(/is not empty/);
    await expect(dumpEmbedded(path.join(STATE, 'nothing-here'), dump)).rejects.toThrow(/No embedded database/);
  });

  withPostgres(
    'restores into a PostgreSQL server with psql: the way from embedded to PostgreSQL',
    async () => {
      const database = await createPostgresDatabase();
      try {
        execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-q', '-d', database.url, '-f', dump], { stdio: ['ignore', 'ignore', 'pipe'] });
        const restored = await startRestored({ databaseUrl: database.url }, key, server!);
        try {
          await expectSame(restored, written);
        } finally {
          await restored.app.close();
        }
      } finally {
        await database.drop();
      }
    },
    120_000,
  );
});

describe('PostgreSQL backup', () => {
  withPostgres(
    'pg_dump -Fc of a running server, pg_restore into a fresh database: the same data, new writes work',
    async () => {
      const key = randomBytes(32);
      const source = await createPostgresDatabase();
      const target = await createPostgresDatabase();
      const dump = path.join(STATE, 'postgres.dump');
      let server: TestServer | undefined;
      let restored: TestServer | undefined;
      try {
        server = await startServer('postgres', { config: { databaseUrl: source.url, credentialKey: key, publicUrl: PUBLIC_URL } });
        const written = await writeSome(server);
        // While it runs: pg_dump reads one consistent snapshot.
        execFileSync('pg_dump', ['-Fc', '--no-owner', '-f', dump, source.url]);
        execFileSync('pg_restore', ['--no-owner', '--exit-on-error', '-d', target.url, dump]);
        restored = await startRestored({ databaseUrl: target.url }, key, server);
        await expectSame(restored, written);
      } finally {
        await restored?.app.close();
        await server?.app.close();
        await source.drop();
        await target.drop();
      }
    },
    120_000,
  );
});
