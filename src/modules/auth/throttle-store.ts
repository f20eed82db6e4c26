import type { SqlRunner } from '../../db/sql';
import { MemoryStore, storedKey, sweeper } from '../ratelimit/counter-store';

/**
 * Where the failed-login counters live: in memory for one process (the embedded database allows
 * only one), in a PostgreSQL table when several processes share a database, so the limits hold
 * for the whole deployment. Both implement the same few atomic operations; the rules (when to
 * lock, for how long) are in {@link CounterRule} and applied identically by both.
 */

/** How one kind of key counts attempts. */
export interface CounterRule {
  /** Attempts that are admitted; the one that reaches this count locks the key for the next ones. */
  readonly maxFailures: number;
  /** How long attempts are remembered. */
  readonly windowMs: number;
  /** The first lock. */
  readonly lockMs: number;
  /** The lock doubles with every attempt past the limit, up to this. Equal to lockMs: no doubling. */
  readonly maxLockMs: number;
  /** `last`: a streak, forgotten windowMs after its last attempt. `first`: a fixed window from the first. */
  readonly anchor: 'first' | 'last';
}

/** The outcome of {@link ThrottleStore.take}. */
export interface Take {
  /** False when the key was locked: nothing was counted. */
  readonly admitted: boolean;
  /** When refused, milliseconds until the lock ends. */
  readonly waitMs: number;
  /** When the key's lock ends (this attempt may have set it); 0 or past: not locked. */
  readonly lockedUntil: number;
  /** Whether the key was marked trusted (a success from it) and the mark has not expired. */
  readonly trusted: boolean;
}

/** Failed-login counters. Every operation is atomic per key, whatever runs concurrently. */
export interface ThrottleStore {
  readonly kind: 'memory' | 'postgres';
  /**
   * One attempt: refused (nothing counted) while the key is locked; otherwise counted, and when
   * the count reaches `rule.maxFailures` the key is locked at once, before the attempt is
   * evaluated, so concurrent attempts cannot overshoot the limit.
   */
  take(key: string, rule: CounterRule, now: number): Promise<Take>;
  /** Uncounts one attempt that turned out not to be a failure (not evaluated, or not a guess). */
  giveBack(key: string, rule: CounterRule, now: number): Promise<void>;
  /** A success: the count and any lock are cleared; the key is trusted until `trustedUntil` (0: not). */
  succeed(key: string, trustedUntil: number, now: number): Promise<void>;
  /** The longest remaining lock among `keys`, in milliseconds; 0 when none is locked. */
  lockedFor(keys: readonly string[], now: number): Promise<number>;
}

/** Lock length once `failures` attempts have been counted (failures ≥ maxFailures). */
export function lockLength(rule: CounterRule, failures: number): number {
  const beyond = Math.min(Math.max(failures - rule.maxFailures, 0), 30);
  return Math.min(rule.lockMs * 2 ** beyond, rule.maxLockMs);
}

export function assertRule(rule: CounterRule): void {
  const { maxFailures, windowMs, lockMs, maxLockMs } = rule;
  if (!Number.isInteger(maxFailures) || maxFailures < 1) throw new RangeError('maxFailures must be an integer >= 1');
  for (const value of [windowMs, lockMs, maxLockMs]) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError('windowMs, lockMs and maxLockMs must be positive integers');
  }
  if (maxLockMs < lockMs) throw new RangeError('maxLockMs must be at least lockMs');
}

interface Entry {
  failures: number;
  windowStart: number;
  lastAttemptAt: number;
  lockedUntil: number;
  trustedUntil: number;
}

/**
 * Counters in least-recently-used order, bounded by `maxEntries`: the oldest entry goes first,
 * preferring ones that are neither locked nor trusted, so spraying fresh usernames is not a cheap
 * way to flush the lock of an account under attack.
 */
export class MemoryThrottleStore extends MemoryStore<Entry> implements ThrottleStore {
  constructor(maxEntries = 30_000) {
    super(maxEntries);
  }

  async take(key: string, rule: CounterRule, now: number): Promise<Take> {
    let entry = this.entry(key);
    if (entry && entry.lockedUntil > now) {
      return { admitted: false, waitMs: entry.lockedUntil - now, lockedUntil: entry.lockedUntil, trusted: entry.trustedUntil > now };
    }
    const anchor = entry && (rule.anchor === 'first' ? entry.windowStart : entry.lastAttemptAt);
    if (!entry) {
      entry = { failures: 0, windowStart: now, lastAttemptAt: now, lockedUntil: 0, trustedUntil: 0 };
    } else if (anchor !== undefined && now - anchor >= rule.windowMs) {
      entry.failures = 0;
      entry.windowStart = now;
    }
    entry.failures += 1;
    entry.lastAttemptAt = now;
    if (entry.failures >= rule.maxFailures) entry.lockedUntil = now + lockLength(rule, entry.failures);
    this.touchAt(key, entry, now);
    return { admitted: true, waitMs: 0, lockedUntil: entry.lockedUntil, trusted: entry.trustedUntil > now };
  }

  async giveBack(key: string, rule: CounterRule, _now: number): Promise<void> {
    const entry = this.entry(key);
    if (!entry || entry.failures === 0) return;
    entry.failures -= 1;
    // The lock this attempt set (or any below the limit) goes with it.
    if (entry.failures < rule.maxFailures) entry.lockedUntil = 0;
  }

  async succeed(key: string, trustedUntil: number, now: number): Promise<void> {
    const entry = this.entry(key);
    if (trustedUntil <= now) {
      if (entry && entry.trustedUntil <= now) this.forget(key);
      else if (entry) Object.assign(entry, { failures: 0, lockedUntil: 0 });
      return;
    }
    const next = entry ?? { failures: 0, windowStart: now, lastAttemptAt: now, lockedUntil: 0, trustedUntil: 0 };
    Object.assign(next, { failures: 0, lockedUntil: 0, trustedUntil: Math.max(next.trustedUntil, trustedUntil) });
    this.touchAt(key, next, now);
  }

  async lockedFor(keys: readonly string[], now: number): Promise<number> {
    let wait = 0;
    for (const key of keys) {
      const entry = this.entry(key);
      if (entry) wait = Math.max(wait, entry.lockedUntil - now);
    }
    return wait;
  }

  private touchAt(key: string, entry: Entry, now: number): void {
    this.touch(key, entry, (other) => other.lockedUntil <= now && other.trustedUntil <= now);
  }
}

/**
 * Counters in the `login_throttle` table (migration `Migration20261203050000_login_throttle`),
 * shared by every process on the database. Each operation is one statement: `take` is an
 * `insert … on conflict do update … returning`, which PostgreSQL runs under the row's lock, so
 * concurrent attempts from any process are counted one after another. Keys are stored as their
 * SHA-256 (a mistyped password in the username field is not kept in clear).
 *
 * Rows of keys that are neither locked, trusted nor within their window are deleted by the
 * first `take` of a process after each minute.
 */
export class PostgresThrottleStore implements ThrottleStore {
  readonly kind = 'postgres';
  private readonly sweep: (now: number) => void;

  constructor(private readonly run: SqlRunner) {
    this.sweep = sweeper(run, 'delete from login_throttle where locked_until <= ? and trusted_until <= ? and last_attempt_at + window_ms <= ?', (now) => [
      now,
      now,
      now,
    ]);
  }

  async take(key: string, rule: CounterRule, now: number): Promise<Take> {
    assertRule(rule);
    this.sweep(now);
    // The rule's numbers are validated integers, written into the statement; only key and time are bound.
    const { maxFailures: max, windowMs, lockMs, maxLockMs } = rule;
    const anchor = rule.anchor === 'first' ? 't.window_start' : 't.last_attempt_at';
    const now$ = 'excluded.last_attempt_at';
    const stale = `(${now$} - ${anchor} >= ${windowMs})`;
    const failures = `(case when ${stale} then 1 else t.failures + 1 end)`;
    const lock = `least(${lockMs}::bigint * power(2, least(greatest(${failures} - ${max}, 0), 30))::bigint, ${maxLockMs}::bigint)`;
    const firstLock = max <= 1 ? lockLength(rule, 1) : 0;
    const rows = await this.run<{ admitted: boolean; locked_until: string | number; trusted_until: string | number }>(
      `insert into login_throttle as t (key, failures, window_start, last_attempt_at, locked_until, trusted_until, window_ms, admitted)
       values (?, 1, ?, ?, ?, 0, ${windowMs}, true)
       on conflict (key) do update set
         admitted = t.locked_until <= ${now$},
         failures = case when t.locked_until > ${now$} then t.failures else ${failures} end,
         window_start = case when t.locked_until > ${now$} then t.window_start when ${stale} then ${now$} else t.window_start end,
         last_attempt_at = case when t.locked_until > ${now$} then t.last_attempt_at else ${now$} end,
         window_ms = greatest(t.window_ms, ${windowMs}),
         locked_until = case
           when t.locked_until > ${now$} then t.locked_until
           when ${failures} >= ${max} then ${now$} + ${lock}
           else t.locked_until end
       returning admitted, locked_until, trusted_until`,
      [storedKey(key), now, now, firstLock ? now + firstLock : 0],
    );
    const row = rows[0];
    if (!row) throw new Error('login_throttle returned no row');
    const lockedUntil = Number(row.locked_until);
    return {
      admitted: row.admitted,
      waitMs: row.admitted ? 0 : Math.max(1, lockedUntil - now),
      lockedUntil,
      trusted: Number(row.trusted_until) > now,
    };
  }

  async giveBack(key: string, rule: CounterRule, _now: number): Promise<void> {
    await this.run(
      `update login_throttle set failures = greatest(failures - 1, 0),
         locked_until = case when failures - 1 < ${rule.maxFailures} then 0 else locked_until end
       where key = ?`,
      [storedKey(key)],
    );
  }

  async succeed(key: string, trustedUntil: number, now: number): Promise<void> {
    if (trustedUntil <= now) {
      await this.run('update login_throttle set failures = 0, locked_until = 0 where key = ?', [storedKey(key)]);
      return;
    }
    await this.run(
      `insert into login_throttle as t (key, failures, window_start, last_attempt_at, locked_until, trusted_until, window_ms, admitted)
       values (?, 0, ?, ?, 0, ?, 0, true)
       on conflict (key) do update set failures = 0, locked_until = 0, trusted_until = greatest(t.trusted_until, excluded.trusted_until)`,
      [storedKey(key), now, now, trustedUntil],
    );
  }

  async lockedFor(keys: readonly string[], now: number): Promise<number> {
    if (keys.length === 0) return 0;
    const rows = await this.run<{ locked_until: string | number | null }>(
      `select max(locked_until) as locked_until from login_throttle where key in (${keys.map(() => '?').join(', ')})`,
      keys.map(storedKey),
    );
    return Math.max(0, Number(rows[0]?.locked_until ?? 0) - now);
  }
}
