import { createHash } from 'node:crypto';
import type { SqlRunner } from '../../db/sql';

/**
 * What the two counter stores share: the login throttle's (auth/throttle-store.ts) and the
 * request budgets' (budget-store.ts). Each keeps its counters in memory for one process, or in a
 * PostgreSQL table shared by every process on the database.
 */

/** How far from the oldest entry eviction looks for one it prefers. */
const EVICTION_SCAN = 32;

/** A store in memory, for one process: its entries in least-recently-used order, never more than `maxEntries`. */
export abstract class MemoryStore<Entry> {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
  }

  get size(): number {
    return this.entries.size;
  }

  protected entry(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  protected forget(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Stores `entry` as the most recently used. Past the bound the oldest entry goes, or, with
   * `preferEvicting`, the first of the oldest few that it accepts.
   */
  protected touch(key: string, entry: Entry, preferEvicting?: (entry: Entry) => boolean): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.victim(preferEvicting));
  }

  private victim(preferEvicting: ((entry: Entry) => boolean) | undefined): string {
    if (preferEvicting) {
      let scanned = 0;
      for (const [key, entry] of this.entries) {
        if (scanned++ >= EVICTION_SCAN) break;
        if (preferEvicting(entry)) return key;
      }
    }
    return this.entries.keys().next().value as string;
  }
}

/** A key as a shared table stores it: its SHA-256, so no address or mistyped password is kept in clear. */
export function storedKey(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}

/** How often (at most) a process deletes rows nobody needs any more. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Deletes a table's dead rows (`sql` with `paramsAt(now)`), at most once a minute per process.
 * Best effort: a failed sweep is retried by the next one; the stores treat a dead row as absent
 * meanwhile.
 */
export function sweeper(run: SqlRunner, sql: string, paramsAt: (now: number) => unknown[]): (now: number) => void {
  let lastSweep = 0;
  return (now) => {
    if (now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    run(sql, paramsAt(now)).catch(() => {
      // The next sweep tries again.
    });
  };
}
