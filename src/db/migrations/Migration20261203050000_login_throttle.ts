import { Migration } from '@mikro-orm/migrations';

/**
 * Failed-login counters shared by every process on the database (auth/throttle-store.ts): one row
 * per throttled key (an address, a username, a (username, address) pair), keyed by the key's
 * SHA-256. Times are milliseconds since the epoch from the application's clock. `admitted` is the
 * outcome of the row's last attempt, which the atomic upsert returns.
 */
export class Migration20261203050000_login_throttle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table login_throttle (
        key text primary key,
        failures integer not null,
        window_start bigint not null,
        last_attempt_at bigint not null,
        locked_until bigint not null,
        trusted_until bigint not null,
        window_ms bigint not null,
        admitted boolean not null
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table login_throttle');
  }
}
