import type { SqlRunner } from '../../db/sql';
import { MemoryStore, storedKey, sweeper } from './counter-store';

/**
 * Where the per-client request budgets live (docs/hardening.md, "Request budgets"): in memory for
 * one process (the embedded database allows only one), in a PostgreSQL table when several
 * processes share a database, so a client's budget is one for the whole deployment. Both apply
 * the same rule in one atomic step per request:
 *
 * - a key's window starts with its first request and lasts `windowMs`; the first request after
 *   it ends starts a new one with the whole budget;
 * - a request that fits in what is left of the window's `limit` is admitted and its `cost` taken;
 *   one that does not fit is refused and takes nothing (a refused request does not run).
 */
export interface BudgetStore {
  readonly kind: 'memory' | 'postgres';
  /** Takes `cost` points from `key`'s window if they fit. `cost` and `limit` are integers, 1 ≤ cost ≤ limit. */
  take(key: string, cost: number, limit: number, windowMs: number, now: number): Promise<BudgetTake>;
}

export interface BudgetTake {
  readonly admitted: boolean;
  /** Points spent in the window, this request included when admitted. */
  readonly used: number;
  /** When the window ends (ms since the epoch): the whole budget is back from then. */
  readonly resetAt: number;
}

function assertTake(cost: number, limit: number, windowMs: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be an integer >= 1');
  if (!Number.isSafeInteger(cost) || cost < 1 || cost > limit) throw new RangeError('cost must be an integer from 1 to limit');
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError('windowMs must be a positive integer');
}

interface Window {
  used: number;
  resetAt: number;
}

/**
 * Budgets in a Map bounded by `maxEntries`, least recently used first out (an evicted key starts
 * afresh: spraying addresses frees memory, not anyone else's budget).
 */
export class MemoryBudgetStore extends MemoryStore<Window> implements BudgetStore {
  constructor(maxEntries = 100_000) {
    super(maxEntries);
  }

  async take(key: string, cost: number, limit: number, windowMs: number, now: number): Promise<BudgetTake> {
    assertTake(cost, limit, windowMs);
    let window = this.entry(key);
    if (!window || window.resetAt <= now) window = { used: 0, resetAt: now + windowMs };
    const admitted = window.used + cost <= limit;
    if (admitted) window.used += cost;
    this.touch(key, window);
    return { admitted, used: window.used, resetAt: window.resetAt };
  }
}

/**
 * Budgets in the `rate_limit_budget` table (migration `Migration20261206000000_rate_limit_budget`),
 * shared by every process on the database. `take` is one `insert … on conflict do update …
 * returning`, which PostgreSQL runs under the row's lock, so concurrent requests from any process
 * are taken one after another and the limit cannot be overshot. Keys are stored as their SHA-256
 * (an address is not kept in clear). Ended windows are deleted by the first `take` of a process
 * after each minute.
 */
export class PostgresBudgetStore implements BudgetStore {
  readonly kind = 'postgres';
  private readonly sweep: (now: number) => void;

  constructor(private readonly run: SqlRunner) {
    // Ended windows are also reset by their next take: the sweep only frees the rows.
    this.sweep = sweeper(run, 'delete from rate_limit_budget where reset_at <= ?', (now) => [now]);
  }

  async take(key: string, cost: number, limit: number, windowMs: number, now: number): Promise<BudgetTake> {
    assertTake(cost, limit, windowMs);
    this.sweep(now);
    // cost, limit and windowMs are validated integers, written into the statement; key and time are bound.
    const ended = `b.reset_at <= excluded.reset_at - ${windowMs}`;
    const rows = await this.run<{ used: number | string; reset_at: number | string; admitted: boolean }>(
      `insert into rate_limit_budget as b (key, used, reset_at, admitted)
       values (?, ${cost}, ?, true)
       on conflict (key) do update set
         used = case when ${ended} then excluded.used when b.used + ${cost} <= ${limit} then b.used + ${cost} else b.used end,
         admitted = ${ended} or b.used + ${cost} <= ${limit},
         reset_at = case when ${ended} then excluded.reset_at else b.reset_at end
       returning used, reset_at, admitted`,
      [storedKey(key), now + windowMs],
    );
    const row = rows[0];
    if (!row) throw new Error('rate_limit_budget returned no row');
    return { admitted: row.admitted, used: Number(row.used), resetAt: Number(row.reset_at) };
  }
}
