import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGliteDriver, type PGliteConnectionConfig } from 'mikro-orm-pglite';
import { Client } from 'pg';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { User } from '../modules/user/user.entity';
import { Ticket } from '../modules/ticket/ticket.entity';
import { HistoryEntry } from '../modules/ticket/history-entry.entity';
import { Reply } from '../modules/reply/reply.entity';
import { StoredImage } from '../modules/image/image.entity';
import { TicketEventRecord } from '../modules/event/ticket-event.entity';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [User, Ticket, HistoryEntry, Reply, StoredImage, TicketEventRecord];

export type DatabaseKind = 'embedded' | 'postgres';

export interface DatabaseOptions {
  /** `postgres://…`; undefined for embedded PGlite. */
  databaseUrl?: string;
  /** Embedded only: where PGlite keeps its files; undefined keeps it in memory (tests). */
  dataDir?: string;
  /** Called with every SQL statement the ORM sends (tests count statements with it). */
  onQuery?: (sql: string) => void;
  /** Upper bound of the PostgreSQL connection pool. */
  poolSize?: number;
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
    pglite = new PGlite({ dataDir: dir, extensions: { pg_trgm } });
  } else {
    pglite = new PGlite({ extensions: { pg_trgm } });
  }
  await pglite.waitReady;
  const orm = await MikroORM.init({
    ...baseOptions(options),
    driver: PGliteDriver,
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
    const orm = await MikroORM.init({
      ...baseOptions(options),
      driver: PostgreSqlDriver,
      clientUrl: options.databaseUrl,
      pool: { min: 0, max: options.poolSize ?? 10 },
    });
    try {
      await migrateExclusively(options.databaseUrl, orm);
    } catch (error) {
      await orm.close(true);
      throw error;
    }
    return {
      kind: 'postgres',
      orm,
      ping: async () => {
        await orm.em.getConnection().execute('select 1');
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
      await orm.em.getConnection().execute('select 1');
    },
    close: async () => {
      await orm.close(true);
      await pglite.close();
    },
  };
}
