import { createHash } from 'node:crypto';
import type { EntityManager, Platform } from '@mikro-orm/core';
import { escapeLiteral } from 'pg';
import type { SqlEntityManager } from '@mikro-orm/postgresql';
import type { SqlStatement } from './sql';

/**
 * A short write transaction sent to the driver directly, in as few round trips as its
 * statements allow: `begin` travels with the first statement, and `commit` with the one the
 * work marks as its last ({@link WriteTransaction.commitWithNextStatement}); statements that do
 * not wait for JavaScript travel together ({@link WriteTransaction.executeAll}). A transaction
 * whose first message also commits is that one message, without `begin` and `commit`:
 * PostgreSQL runs a simple-protocol message's statements as one implicit transaction. A write
 * that locks a row and writes under a condition the database checks on it costs one round trip;
 * one that lets JavaScript decide between the lock and the write, two.
 *
 * Why not `em.transactional`: the write path (transitions, replies) uses no identity map and no
 * unit of work, only raw statements; MikroORM's transactional fork and knex's transaction and
 * query objects were a large part of its CPU per request (docs/performance.md, "Write path").
 *
 * While the work runs, every `execute(em, …)` (db/sql.ts) on the `em` it was given goes to this
 * transaction, so code written against an EntityManager (the reader's locking read, the event
 * log) joins it unchanged. Each message is one simple-protocol query. Each statement text
 * is prepared once per connection (SQL `PREPARE`, sent in the message of its first use there,
 * ahead of the rest) and then sent as `execute <name>(<values>)`, the values inlined by
 * MikroORM's own formatting (as every raw statement of the ORM already is): PostgreSQL parses
 * and analyses a write's statements once per session instead of on every request, and they
 * still share one message (the extended protocol would need a round trip per statement, `pg`
 * does not pipeline). The connection comes from the ORM's pool, with its timeouts (db/database.ts); on
 * an error the transaction is rolled back, or the connection discarded when it cannot be.
 */
export interface WriteTransaction {
  /**
   * The next statement (or batch of statements) also commits: it and `commit` travel together.
   * When it fails, nothing was committed (the transaction rolls back). A statement after it is a
   * programming error.
   */
  commitWithNextStatement(): void;
  /**
   * Runs the statements in order as one message (after `begin` when they open the transaction,
   * before `commit` when it was marked): one round trip for all of them. Answers each one's rows.
   * PostgreSQL stops at the first that fails and the transaction is then rolled back.
   */
  executeAll(statements: readonly SqlStatement[]): Promise<unknown[][]>;
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

/**
 * How many distinct statement texts the write path prepares (per database session, as SQL
 * `PREPARE`); later ones are sent with their values inlined. A text is a shape (which nested
 * collections the answer reads, a transition or a reply), not its values: a handful cover the
 * traffic, and the cap bounds what each session holds.
 */
const MAX_PREPARED_WRITES = 32;
const preparedWrites = new Map<string, string>();
/** The names each connection (its database session) has prepared. */
const preparedOn = new WeakMap<PooledConnection, Set<string>>();

/**
 * The name a statement is prepared under, or undefined when it is not prepared: past the cap, or
 * not a statement PostgreSQL can prepare (only select, insert, update, delete, and `with` over them).
 * Names start with `hw_`, apart from the read path's prepared statements (db/sql.ts, `hd_`), with
 * which they share each session's namespace.
 */
function preparedWriteName(sql: string): string | undefined {
  let name = preparedWrites.get(sql);
  if (name === undefined && preparedWrites.size < MAX_PREPARED_WRITES && /^\s*(with|select|insert|update|delete)\b/i.test(sql)) {
    name = `hw_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    preparedWrites.set(sql, name);
  }
  return name;
}

/** The text a prepared write statement's name stands for (tests read the messages with it). */
export function preparedWriteText(name: string): string | undefined {
  for (const [sql, prepared] of preparedWrites) if (prepared === name) return sql;
  return undefined;
}

/** SQLSTATEs of EXECUTE naming a statement the session does not hold, and of PREPARE of one it does. */
const UNDEFINED_PSTATEMENT = '26000';
const DUPLICATE_PSTATEMENT = '42P05';

/**
 * One value of `execute <name>(…)` as an SQL literal. Strings, numbers, booleans, null and dates
 * are written here (the literal MikroORM's PostgreSQL platform writes for them, a date as its
 * ISO 8601 UTC instant); anything else (arrays, JSON, buffers, raw fragments) goes through the
 * platform's own quoting. `formatQuery` scanned a placeholder text and ran the platform's type
 * checks for each of a write's ≈ 10 values: ≈ 2% of the write path's CPU (docs/performance.md,
 * "Fourth round").
 */
function literal(platform: Platform, value: unknown): string {
  switch (typeof value) {
    case 'string':
      return escapeLiteral(value);
    case 'number':
      if (Number.isFinite(value)) return String(value);
      break;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'object':
      if (value === null) return 'null';
      if (value instanceof Date && !Number.isNaN(value.getTime())) return `'${value.toISOString()}'`;
      break;
  }
  return String(platform.quoteValue(value));
}

/** `sql` with knex's `?` placeholders numbered as PostgreSQL's `$1, $2, …` (for `prepare … as`). */
export const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

class DriverTransaction implements WriteTransaction {
  private connection: PooledConnection | undefined;
  private send: SendText | undefined;
  /** `begin` was sent: the session holds this transaction open between messages. */
  private begun = false;
  /** The next statement carries `commit`. */
  private commitNext = false;
  /** A message carrying `commit` was sent: no statement may follow. */
  private committing = false;
  /** ...and it succeeded. */
  private committed = false;
  /** Statements whose PREPARE travelled in the message not answered yet (or that failed). */
  private preparing: string[] = [];

  constructor(private readonly em: EntityManager) {}

  commitWithNextStatement(): void {
    if (this.committing) throw new Error('The write transaction has already committed');
    this.commitNext = true;
  }

  /** Runs one statement in the transaction: the rows of that statement. */
  async execute<T>(sql: string, params: readonly unknown[]): Promise<T> {
    return (await this.executeAll([{ sql, params }]))[0] as T;
  }

  async executeAll(statements: readonly SqlStatement[]): Promise<unknown[][]> {
    if (this.committing) throw new Error('A statement after the write transaction committed');
    if (!this.connection) {
      this.connection = await this.client().acquireConnection();
      this.send = sender(this.connection);
    }
    const prepares: string[] = [];
    const sent: string[] = [];
    for (const { sql, params } of statements) {
      const { prepare, statement } = this.statement(sql, params);
      if (prepare) prepares.push(prepare);
      sent.push(statement);
    }
    const commits = this.commitNext;
    // `begin` only when the transaction outlives this message, `commit` only when `begin` was
    // sent: a message that both opens and commits is one implicit transaction (PostgreSQL runs
    // the statements of one simple-protocol message as one transaction unless it holds
    // transaction control: none committed when one fails, nothing left open after it). Two
    // statements less to parse and answer on every one-message write.
    const opens = !this.begun && !commits;
    const closes = this.begun && commits;
    // PREPAREs first: session-level definitions, outside what the transaction decides.
    const text = [...prepares, ...(opens ? ['begin'] : []), ...sent, ...(closes ? ['commit'] : [])].join(';\n');
    this.begun ||= opens;
    this.committing = commits;
    this.log(text);
    let results: Result[];
    try {
      results = await this.send!(text);
    } catch (error) {
      const code = (error as { code?: string }).code;
      // The session does not hold what this process believes it prepared there (a DEALLOCATE, a
      // pooler that moved us): the connection is not reused, so its replacement prepares afresh.
      if (code === UNDEFINED_PSTATEMENT || code === DUPLICATE_PSTATEMENT) {
        preparedOn.delete(this.connection);
        this.connection.__knex__disposed = (error as Error).message;
      }
      throw error;
    }
    if (prepares.length) this.confirmPrepared();
    this.committed = commits;
    const first = prepares.length + (opens ? 1 : 0);
    return sent.map((_, index) => results[first + index]?.rows ?? []);
  }

  /**
   * The statement to send: `execute <name>(<values>)` of a statement prepared on this
   * connection (with the `prepare` that defines it when the connection has not run it yet), or
   * the text with its values inlined when it cannot be prepared (see {@link preparedWriteName}).
   */
  private statement(sql: string, params: readonly unknown[]): { prepare?: string; statement: string } {
    const platform = this.em.getPlatform();
    const name = preparedWriteName(sql);
    if (name === undefined) return { statement: platform.formatQuery(sql, [...params]) };
    const statement = params.length ? `execute ${name}(${params.map((value) => literal(platform, value)).join(', ')})` : `execute ${name}`;
    let names = preparedOn.get(this.connection!);
    if (!names) preparedOn.set(this.connection!, (names = new Set()));
    if (names.has(name) || this.preparing.includes(name)) return { statement };
    this.preparing.push(name);
    return { prepare: `prepare ${name} as ${numbered(sql)}`, statement };
  }

  /** The message that carried PREPAREs succeeded (or these names were found held): the session holds them. */
  private confirmPrepared(held: readonly string[] = this.preparing): void {
    const names = preparedOn.get(this.connection!);
    for (const name of held) names?.add(name);
    this.preparing = [];
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
    if (!this.connection || this.connection.__knex__disposed) return;
    if (this.begun && !this.committed) {
      try {
        this.log('rollback');
        await this.send!('rollback');
      } catch (error) {
        this.connection.__knex__disposed = error instanceof Error ? error.message : 'rollback failed';
        return;
      }
    }
    // The failed message carried a PREPARE: whether it ran before the failure, the session says
    // (PREPARE is not undone by a rollback). Only after a failure on a connection's first use.
    if (this.preparing.length) {
      try {
        // Names are `hw_` and hex digits (preparedWriteName): nothing to quote.
        const query = `select name from pg_prepared_statements where name in (${this.preparing.map((name) => `'${name}'`).join(', ')})`;
        this.log(query);
        const [held] = await this.send!(query);
        this.confirmPrepared((held?.rows ?? []).map((row) => (row as { name: string }).name));
      } catch (error) {
        this.connection.__knex__disposed = error instanceof Error ? error.message : 'prepared statements unknown';
      }
      this.preparing = [];
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
