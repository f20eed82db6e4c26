import { Migration } from '@mikro-orm/migrations';

/**
 * Per-client request budgets shared by every process on the database (ratelimit/budget-store.ts):
 * one row per client (a user, or an address for requests without a credential), keyed by the
 * key's SHA-256. `used` points were spent in the window that ends at `reset_at` (milliseconds
 * since the epoch, from the application's clock); `admitted` is the outcome of the row's last
 * request, which the atomic upsert returns.
 *
 * UNLOGGED: every GraphQL request writes a row, and a logged write waits for its WAL flush at
 * commit, which doubled the time of a small query (docs/hardening.md, "Request budgets"). An
 * unlogged table is not written to the WAL; PostgreSQL empties it after a crash (every budget
 * starts afresh, which costs nothing worth keeping) and does not copy it to standbys.
 */
export class Migration20261206000000_rate_limit_budget extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create unlogged table rate_limit_budget (
        key text primary key,
        used integer not null,
        reset_at bigint not null,
        admitted boolean not null
      )`);
    this.addSql('create index rate_limit_budget_reset_at on rate_limit_budget (reset_at)');
  }

  override async down(): Promise<void> {
    this.addSql('drop table rate_limit_budget');
  }
}
