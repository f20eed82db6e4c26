import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/postgresql';
import { writeTransactionOf } from './write-transaction';

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
