import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys of ticket creation (`Idempotency-Key` header; see idempotency.ts): one row per
 * (user, key), written in the same transaction as the ticket it names, so a key is recorded if
 * and only if its ticket exists. `fingerprint` is the sha256 (hex) of the normalised create
 * command: a retry must send the same request to get the first result back.
 *
 * The claim is inserted at the start of the create's transaction, before the ticket row, so the
 * ticket foreign key is checked at commit (deferred). Rows older than the retention period are
 * deleted by later creates of the same user.
 */
export class Migration20261202000000_idempotency_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table idempotency_keys (
        user_id integer not null references users(id),
        key varchar(255) not null,
        fingerprint char(64) not null,
        ticket_id uuid not null references tickets(id) deferrable initially deferred,
        created_at timestamptz(3) not null default now(),
        primary key (user_id, key)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table idempotency_keys');
  }
}
