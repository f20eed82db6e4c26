import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/postgresql';

/**
 * A short write transaction sent to the driver directly, in as few round trips as its
 * statements allow: `begin` travels with the first statement, and `commit` with the one the
 * work marks as its last ({@link WriteTransaction.commitWithNextStatement}). A write that locks
 * a row, lets JavaScript decide on it, then writes, costs two round trips instead of four.
 *
 * Why not `em.transactional`: the write path (transitions, replies) uses no identity map and no
 * unit of work, only raw statements; MikroORM's transactional fork and knex's transaction and
 * query objects were a large part of its CPU per request (docs/performance.md, "Write path").
 *
 * While the work runs, every `execute(em, …)` (db/sql.ts) on the `em` it was given goes to this
 * transaction, so code written against an EntityManager (the reader's locking read, the event
 * log) joins it unchanged. Statements travel as one simple-protocol message, with their `?`
 * parameters inlined by MikroORM's own formatting (as every raw statement of the ORM already
 * is). The connection comes from the ORM's pool, with its timeouts (db/database.ts); on an
 * error the transaction is rolled back, or the connection discarded when it cannot be.
 */
export interface WriteTransaction {
  /**
   * The next statement also commits: it and `commit` travel together. When it fails, nothing
   * was committed (the transaction rolls back). A statement after it is a programming error.
   */
  commitWithNextStatement(): void;
}

interface Result {
  rows: unknown[];
}

/** What the two drivers have in common: run a text of one or more statements, one result each. */
type SendText = (text: string) => Promise<Result[]>;

interface PooledConnection {
  /** pg: set by knex (or db/database.ts) when the connection must not be reused. */
  __knex__disposed?: unknown;
}

interface KnexClient {
  acquireConnection(): Promise<PooledConnection>;
  releaseConnection(connection: PooledConnection): Promise<void>;
}

/** pg's Client (callback form, so db/database.ts's query-timeout wrapper sees the answer) or PGlite's `exec`. */
function sender(connection: PooledConnection): SendText {
  const pglite = connection as { exec?: (text: string) => Promise<Result[]> };
  if (typeof pglite.exec === 'function') return (text) => pglite.exec!(text);
  const pg = connection as { query(text: string, callback: (error: Error | null, result: Result | Result[]) => void): void };
  return (text) =>
    new Promise((resolve, reject) => pg.query(text, (error, result) => (error ? reject(error) : resolve(Array.isArray(result) ? result : [result]))));
}

const open = new WeakMap<EntityManager, DriverTransaction>();

class DriverTransaction implements WriteTransaction {
  private connection: PooledConnection | undefined;
  private send: SendText | undefined;
  /** `begin` was sent. */
  private begun = false;
  /** The next statement carries `commit`. */
  private commitNext = false;
  /** A message carrying `commit` was sent: no statement may follow. */
  private committing = false;
  /** ...and it succeeded. */
  private committed = false;

  constructor(private readonly em: EntityManager) {}

  commitWithNextStatement(): void {
    if (this.committing) throw new Error('The write transaction has already committed');
    this.commitNext = true;
  }

  /** Runs one statement in the transaction: the rows of that statement. */
  async execute<T>(sql: string, params: readonly unknown[]): Promise<T> {
    if (this.committing) throw new Error('A statement after the write transaction committed');
    const statement = this.em.getPlatform().formatQuery(sql, [...params]);
    if (!this.connection) {
      this.connection = await this.client().acquireConnection();
      this.send = sender(this.connection);
    }
    const opens = !this.begun;
    const commits = this.commitNext;
    const text = `${opens ? 'begin;\n' : ''}${statement}${commits ? ';\ncommit' : ''}`;
    this.begun = true;
    this.committing = commits;
    this.log(text);
    const results = await this.send!(text);
    this.committed = commits;
    return (results[opens ? 1 : 0]?.rows ?? []) as T;
  }

  /** Commits what is still open (a work that did not mark its last statement). */
  async finish(): Promise<void> {
    if (!this.begun || this.committing) return;
    this.committing = true;
    this.log('commit');
    await this.send!('commit');
    this.committed = true;
  }

  /**
   * After a failure: rolls back whatever is open. A statement that failed together with its
   * `commit` left the transaction aborted (the server skips the rest of the message), so it is
   * sent then too; a connection that cannot take it is discarded by the pool.
   */
  async abandon(): Promise<void> {
    this.committing = true;
    if (!this.connection || !this.begun || this.committed || this.connection.__knex__disposed) return;
    try {
      this.log('rollback');
      await this.send!('rollback');
    } catch (error) {
      this.connection.__knex__disposed = error instanceof Error ? error.message : 'rollback failed';
    }
  }

  async release(): Promise<void> {
    if (this.connection) await this.client().releaseConnection(this.connection);
  }

  private client(): KnexClient {
    return (this.em as SqlEntityManager).getKnex().client as unknown as KnexClient;
  }

  /** The ORM's query log (how tests and the benchmark count statements); one entry per round trip. */
  private log(text: string): void {
    this.em.config.getLogger().logQuery({ level: 'info', query: text });
  }
}

/**
 * Runs `work` in a write transaction on the driver (see {@link WriteTransaction}); statements
 * `execute(em, …)` sends meanwhile belong to it. Commits when the work returns (if its last
 * statement did not already), rolls back when it throws.
 */
export async function writeTransaction<T>(em: EntityManager, work: (transaction: WriteTransaction) => Promise<T>): Promise<T> {
  if (open.has(em)) throw new Error('A write transaction is already open on this EntityManager');
  const transaction = new DriverTransaction(em);
  open.set(em, transaction);
  try {
    let value: T;
    try {
      value = await work(transaction);
      await transaction.finish();
    } catch (error) {
      await transaction.abandon();
      throw error;
    }
    return value;
  } finally {
    open.delete(em);
    await transaction.release();
  }
}

/** The write transaction `em` is bound to, if any (db/sql.ts sends its statements there). */
export function writeTransactionOf(em: EntityManager): { execute<T>(sql: string, params: readonly unknown[]): Promise<T> } | undefined {
  return open.get(em);
}
