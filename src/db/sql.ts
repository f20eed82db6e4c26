import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/postgresql';
import { writeTransactionOf } from './write-transaction';

/**
 * Runs a raw statement through the SQL entity manager's `execute`, which carries `em`'s
 * transaction when it is inside one (`em.transactional`'s fork) and runs on its own otherwise.
 * Both drivers (PostgreSQL and PGlite) are SQL drivers, so every EntityManager here is a
 * SqlEntityManager; the core type that the rest of the code holds does not say so. Inside a
 * driver-level write transaction on `em` (db/write-transaction.ts), the statement goes there.
 */
export function execute<T>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T> {
  const transaction = writeTransactionOf(em);
  if (transaction) return transaction.execute<T>(sql, params);
  return (em as SqlEntityManager).execute<T & object>(sql, [...params], 'all');
}
