import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGlite } from '@electric-sql/pglite';
import type { PGliteConnectionConfig } from 'mikro-orm-pglite';
import { SafePGliteDriver } from './pglite-driver';
import { execute } from './sql';
import { Client } from 'pg';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { User } from '../modules/user/user.entity';
import { Ticket } from '../modules/ticket/ticket.entity';
import { HistoryEntry } from '../modules/ticket/history-entry.entity';
import { Reply } from '../modules/reply/reply.entity';
import { StoredImage } from '../modules/image/image.entity';
import { TicketEventRecord } from '../modules/event/ticket-event.entity';
import { DEFAULT_LIMITS } from '../config';
import { MIGRATIONS } from './migrations';
import { PGLITE_EXTENSIONS } from './pglite-extensions';

export const ENTITIES = [User, Ticket, HistoryEntry, Reply, StoredImage, TicketEventRecord];

export type DatabaseKind = 'embedded' | 'postgres';

export interface DatabaseOptions {
  /** `postgres://…`; undefined for embedded PGlite. */
  databaseUrl?: string;
  /** Embedded only: where PGlite keeps its files; undefined keeps it in memory (tests). */
  dataDir?: string;
  /**
   * Embedded in memory only: start as a copy of this dump ({@link dumpMigratedEmbedded}) instead
   * of an empty cluster, so the cluster is not created and the migrations not run again for every
   * database (tests start hundreds). Migrations then apply only what the dump lacks.
   */
  template?: Blob;
  /** Called with every SQL statement the ORM sends (tests count statements with it). */
  onQuery?: (sql: string) => void;
  /** Upper bound of the PostgreSQL connection pool. */
  poolSize?: number;
  /** PostgreSQL: the longest a statement may run (server-side `statement_timeout`; see {@link timeoutOptions}). */
  statementTimeoutMs?: number;
  /** PostgreSQL: the longest a request waits for a pooled connection, or for a new one to open. */
  acquireTimeoutMs?: number;
}

/** How much longer than the server's own statement timeout the client waits for an answer. */
const CLIENT_MARGIN_MS = 1_000;

/** The message pg gives a query whose answer did not arrive within `query_timeout`. */
export const QUERY_READ_TIMEOUT_MESSAGE = 'Query read timeout';

interface PooledPgClient {
  query: (...args: unknown[]) => unknown;
  connection?: { stream?: { destroy(): void } };
  __knex__disposed?: unknown;
}

/**
 * A database that hangs (frozen, partitioned, or a lock held by someone else) must not make
 * requests wait without end. Three bounds, each turned into 503 by `isUnavailable`:
 *
 * - `statement_timeout`, enforced by the server on each connection (a startup parameter): a
 *   statement waiting for a lock or running long is cancelled (57014) and its transaction rolls
 *   back; the connection stays usable.
 * - `query_timeout`, enforced by the client a second later: a server that does not answer at all
 *   (a frozen process cannot enforce its own timeout). Such a connection is in an unknown state
 *   (its statement may still run, its ROLLBACK was never sent): it is closed at once and never
 *   reused, so the server rolls its transaction back and no later request can commit its
 *   half-written work.
 * - acquiring: a request waits at most `acquireTimeoutMs` for a pooled connection (all may be
 *   stuck) and for a new one to open (a frozen server accepts TCP but never answers).
 *
 * Migrations run on a connection of their own without these bounds (see openDatabase).
 */
function timeoutOptions(options: DatabaseOptions): Partial<Options> {
  // Defaults: config.ts DEFAULT_LIMITS (5 s each).
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_LIMITS.databaseStatementTimeoutMs;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? DEFAULT_LIMITS.databaseAcquireTimeoutMs;
  return {
    driverOptions: {
      acquireConnectionTimeout: acquireTimeoutMs,
      connection: {
        statement_timeout: statementTimeoutMs,
        query_timeout: statementTimeoutMs + CLIENT_MARGIN_MS,
        connectionTimeoutMillis: acquireTimeoutMs,
        keepAlive: true,
      },
    },
    pool: {
      min: 0,
      max: options.poolSize ?? 10,
      afterCreate: (connection: PooledPgClient, done: (error: Error | null, connection: unknown) => void) => {
        const query = connection.query;
        connection.query = function (this: unknown, ...args: unknown[]) {
          const last = args.length - 1;
          const callback = args[last];
          if (typeof callback === 'function') {
            args[last] = (error: Error | null, result: unknown) => {
              if (error?.message === QUERY_READ_TIMEOUT_MESSAGE && !connection.__knex__disposed) {
                // knex's pool discards a disposed connection; closing the socket makes the server
                // roll back whatever transaction was open on it.
                connection.__knex__disposed = error.message;
                connection.connection?.stream?.destroy();
              }
              (callback as (error: Error | null, result: unknown) => void)(error, result);
            };
          }
          return query.apply(this, args);
        };
        done(null, connection);
      },
    } as Options['pool'],
  };
}

export interface Database {
  readonly kind: DatabaseKind;
  readonly orm: MikroORM;
  /** Resolves when the database answers a trivial query; rejects otherwise (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Session-level advisory lock key serialising migrations across processes sharing a server. */
const MIGRATION_LOCK_KEY = 0x7469636b; // "tick"

function baseOptions(options: DatabaseOptions): Options {
  const { onQuery } = options;
  return {
    entities: ENTITIES,
    allowGlobalContext: false,
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, snapshot: false },
    // The query logger is how tests count statements; in production it is off and costs nothing.
    debug: onQuery ? ['query'] : false,
    logger: onQuery ? (message: string) => onQuery(message) : () => undefined,
    colors: false,
  };
}

async function openEmbedded(options: DatabaseOptions): Promise<{ orm: MikroORM; pglite: PGlite }> {
  let pglite: PGlite;
  if (options.dataDir) {
    const dir = path.join(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    pglite = new PGlite({ dataDir: dir, extensions: PGLITE_EXTENSIONS });
  } else {
    pglite = new PGlite({ extensions: PGLITE_EXTENSIONS, ...(options.template ? { loadDataDir: options.template } : {}) });
  }
  await pglite.waitReady;
  const orm = await MikroORM.init({
    ...baseOptions(options),
    driver: SafePGliteDriver,
    dbName: 'postgres',
    driverOptions: { connection: { pglite: () => pglite } satisfies PGliteConnectionConfig },
  });
  return { orm, pglite };
}

/**
 * Several API processes may start at once against one server: an advisory lock held on a
 * dedicated connection makes them migrate one after another, so each sees the others' work.
 */
async function migrateExclusively(databaseUrl: string, orm: MikroORM): Promise<void> {
  const lock = new Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await orm.getMigrator().up();
  } finally {
    await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}

/** Opens the database, migrates it to the latest schema and returns a handle. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    // Migrations may rightly run longer than any request: their own ORM, without the timeouts.
    const migrating = await MikroORM.init({
      ...baseOptions(options),
      driver: PostgreSqlDriver,
      clientUrl: options.databaseUrl,
      pool: { min: 0, max: 1 },
    });
    try {
      await migrateExclusively(options.databaseUrl, migrating);
    } finally {
      await migrating.close(true);
    }
    const orm = await MikroORM.init({
      ...baseOptions(options),
      driver: PostgreSqlDriver,
      clientUrl: options.databaseUrl,
      ...timeoutOptions(options),
    });
    return {
      kind: 'postgres',
      orm,
      ping: async () => {
        await execute(orm.em.fork(), 'select 1');
      },
      close: () => orm.close(true),
    };
  }

  const { orm, pglite } = await openEmbedded(options);
  try {
    await orm.getMigrator().up();
  } catch (error) {
    await orm.close(true);
    await pglite.close();
    throw error;
  }
  return {
    kind: 'embedded',
    orm,
    ping: async () => {
      await execute(orm.em.fork(), 'select 1');
    },
    close: async () => {
      await orm.close(true);
      await pglite.close();
    },
  };
}

/**
 * A new in-memory embedded database migrated to the latest schema, as a dump to pass as
 * {@link DatabaseOptions.template} (uncompressed: loading it is the point, not its size).
 */
export async function dumpMigratedEmbedded(): Promise<Blob> {
  const { orm, pglite } = await openEmbedded({});
  try {
    await orm.getMigrator().up();
    await orm.close(true);
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}
