import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/postgresql';
import { numbered, writeTransactionOf } from './write-transaction';
import { SafePGliteConnection } from './pglite-driver';

/**
 * Runs a raw statement through the SQL entity manager's `execute`, which carries `em`'s
 * transaction when it is inside one (`em.transactional`'s fork) and runs on its own otherwise.
 * Both drivers (PostgreSQL and PGlite) are SQL drivers, so every EntityManager here is a
 * SqlEntityManager; the core type that the rest of the code holds does not say so.
 *
 * This is the one way raw SQL runs outside src/db/ (eslint.config.mjs forbids `getConnection()`
 * elsewhere): `getConnection().execute` runs outside the transaction unless every caller
 * remembers to pass its context. The hot paths (the ticket reads, a write's row lock and its
 * event) use it too: over the connection's own `execute` it adds only the context lookup (a
 * fork answers itself) and the driver's exception conversion, nothing per row.
 *
 * Inside a driver-level write transaction on `em` (db/write-transaction.ts), the statement goes there.
 */
export function execute<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T> {
  const transaction = writeTransactionOf(em);
  if (transaction) return transaction.execute<T>(sql, params);
  return (em as SqlEntityManager).execute<T & object>(sql, [...params], 'all');
}

/** One SQL statement with knex's `?` placeholders and its values, in order. */
export interface SqlStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Runs one statement with `?` placeholders and answers its rows. */
export type SqlRunner = <T>(sql: string, params: unknown[]) => Promise<T[]>;

/**
 * A runner for stores that live outside any request (the login throttle, the request budgets):
 * each statement runs on a fresh fork of `em`, so it never joins a transaction that happens to
 * be open in the caller's async context.
 */
export const standaloneRunner =
  (em: EntityManager): SqlRunner =>
  (sql, params) =>
    execute(em.fork(), sql, params);

/** The knex (tarn) pool behind MikroORM, on PostgreSQL and on PGlite (a pool of one) alike. */
export function poolStats(em: EntityManager): { used: number; free: number; waiting: number } | undefined {
  type Tarn = { numUsed(): number; numFree(): number; numPendingAcquires(): number };
  const connection = em.getConnection() as { getKnex?: () => { client?: { pool?: Tarn } } };
  const pool = connection.getKnex?.().client?.pool;
  if (!pool) return undefined;
  return { used: pool.numUsed(), free: pool.numFree(), waiting: pool.numPendingAcquires() };
}

/**
 * How many distinct statement texts `executePrepared` keeps prepared; later texts run as
 * `execute` does. A text is a shape (which filters, which ordering, which collections), not its
 * values, so a handful cover the traffic; the cap bounds what each database session holds (one
 * plan per text and connection) whatever combinations clients send.
 */
export const MAX_PREPARED_STATEMENTS = 64;

const preparedNames = new Map<string, string>();
/** How many times a session was found without a statement it had prepared (names are never reused). */
let generation = 0;

/** The statement's name (from its text), or undefined when the cap is reached. */
function preparedName(sql: string): string | undefined {
  let name = preparedNames.get(sql);
  if (name === undefined && preparedNames.size < MAX_PREPARED_STATEMENTS) {
    name = `hd_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}_${generation}`;
    preparedNames.set(sql, name);
  }
  return name;
}

/** The name `executePrepared` prepares `sql` under in each session, once it has run it (tests read `pg_prepared_statements` with it). */
export const preparedReadName = (sql: string): string | undefined => preparedNames.get(sql);

/**
 * A session answered that it does not hold the statement (a `DEALLOCATE`, a pooler that moved
 * us to another session): the next execution prepares it again under a new name, on every
 * connection, since the pg driver believes the old name prepared wherever it ran it once.
 */
function forgetPrepared(sql: string): void {
  generation++;
  preparedNames.delete(sql);
}

/** PGlite: names prepared in its (single) session, or being prepared. */
const pglitePrepared = new WeakMap<SafePGliteConnection, Map<string, Promise<void>>>();

/** SQLSTATE of EXECUTE naming a statement the session does not hold. */
const UNDEFINED_PSTATEMENT = '26000';

/**
 * `execute` for the hot reads: the statement is prepared once per database session and then
 * only executed, so PostgreSQL parses its text once instead of on every request. It also plans it
 * once only if the generic plan costs no more than the plans for the values at hand: a statement
 * whose values steer its cost (a `limit ?`) is planned again at every execution, so such values
 * belong in the text where they are few (ticket.query.ts writes its page size there).
 *
 * - PostgreSQL: a named prepared statement of the pg driver (knex passes the name through);
 *   pg prepares it on each pooled connection the first time that connection runs it. The
 *   parameters travel separately, as values.
 * - PGlite: SQL `PREPARE` once in its one session, then `EXECUTE name(values)` with the values
 *   inlined as literals, escaped as MikroORM inlines every parameter. Only outside a
 *   transaction (a failed PREPARE would abort it); inside one it runs as `execute` does.
 *
 * Statements must use knex's `?` placeholders and no other `?`. Logged (and counted by tests)
 * like any other statement, once per execution.
 */
export function executePrepared<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T> {
  return runPrepared<T>(em, sql, params, undefined);
}

/**
 * `executePrepared` answering each row as an array of its values in `columns`' order, which
 * must be the statement's output columns (distinct names), in order. Where the statement runs
 * prepared, the driver builds the arrays (pg's and PGlite's `rowMode: 'array'`): no row object
 * with a key per column, which the pg driver fills by name, column after column (issue 15, the
 * list page's 650 rows). Where it falls back to `execute` (a transaction on PGlite, a write
 * transaction, the cap), the row objects are turned into arrays here, so callers see one shape.
 */
export async function executePreparedArrays(em: EntityManager, sql: string, params: readonly unknown[], columns: readonly string[]): Promise<unknown[][]> {
  return runPrepared<unknown[][]>(em, sql, params, columns);
}

/** Row objects (as `execute` answers them) as arrays of `columns`' values. */
export function rowArrays(rows: readonly Record<string, unknown>[], columns: readonly string[]): unknown[][] {
  return rows.map((row) => columns.map((column) => row[column]));
}

async function runPrepared<T>(em: EntityManager, sql: string, params: readonly unknown[], arrays: readonly string[] | undefined): Promise<T> {
  // Unprepared, through `execute`: rows are objects, turned into arrays when asked for.
  const unprepared = async (): Promise<T> => {
    const rows = await execute<T>(em, sql, params);
    return (arrays ? rowArrays(rows as Record<string, unknown>[], arrays) : rows) as T;
  };
  // Inside a driver-level write transaction (db/write-transaction.ts) the statement must join it.
  if (writeTransactionOf(em)) return unprepared();
  const sqlEm = em as SqlEntityManager;
  const connection = sqlEm.getConnection();
  const context = sqlEm.getTransactionContext();
  // PGlite inside a transaction: a failed PREPARE would abort it.
  if (connection instanceof SafePGliteConnection && context) return unprepared();
  const rowMode = arrays ? 'array' : undefined;
  const run = (name: string): Promise<T> =>
    connection instanceof SafePGliteConnection
      ? executeOnPGlite<T>(em, connection, name, sql, params, rowMode)
      : executeOnPostgres<T>(connection, name, sql, params, context, rowMode);
  return logged(em, sql, params, async () => {
    const name = preparedName(sql);
    if (name === undefined) return unprepared();
    try {
      return await run(name);
    } catch (error) {
      // Retried only outside a transaction: inside one, the error has aborted it.
      if ((error as { code?: string }).code !== UNDEFINED_PSTATEMENT || context) throw error;
      forgetPrepared(sql);
      const renamed = preparedName(sql);
      return renamed === undefined ? unprepared() : run(renamed);
    }
  });
}

async function executeOnPostgres<T>(
  connection: ReturnType<SqlEntityManager['getConnection']>,
  name: string,
  sql: string,
  params: readonly unknown[],
  context: unknown,
  rowMode: 'array' | undefined,
): Promise<T> {
  const query = connection
    .getKnex()
    .raw(sql, [...params] as never[])
    .options(rowMode ? { name, rowMode } : { name });
  if (context) void query.transacting(context as never);
  const result = (await query) as { rows: T };
  return result.rows;
}

async function executeOnPGlite<T>(
  em: EntityManager,
  connection: SafePGliteConnection,
  name: string,
  sql: string,
  params: readonly unknown[],
  rowMode: 'array' | undefined,
): Promise<T> {
  let session = pglitePrepared.get(connection);
  if (!session) pglitePrepared.set(connection, (session = new Map()));
  let preparing = session.get(name);
  if (!preparing) {
    preparing = connection
      .getKnex()
      .raw(`prepare ${name} as ${numbered(sql)}`)
      .then(() => undefined);
    session.set(name, preparing);
    preparing.catch(() => session.delete(name));
  }
  await preparing;
  const call = params.length ? em.getPlatform().formatQuery(`execute ${name}(${params.map(() => '?').join(', ')})`, params) : `execute ${name}`;
  const query = connection.getKnex().raw(call);
  const result = (await (rowMode ? query.options({ rowMode }) : query)) as { rows: T };
  return result.rows;
}

/** Logs the statement through MikroORM's logger, as its own `execute` does (tests count these). */
async function logged<T>(em: EntityManager, sql: string, params: readonly unknown[], run: () => Promise<T>): Promise<T> {
  const logger = em.config.getLogger();
  if (!logger.isEnabled('query')) return run();
  const started = Date.now();
  try {
    const result = await run();
    logger.logQuery({ query: sql, params: [...params], took: Date.now() - started, results: Array.isArray(result) ? result.length : undefined });
    return result;
  } catch (error) {
    logger.logQuery({ query: sql, params: [...params], took: Date.now() - started, level: 'error' });
    throw error;
  }
}
