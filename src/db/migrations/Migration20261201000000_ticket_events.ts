import { Migration } from '@mikro-orm/migrations';

/**
 * The event log behind live updates: one row per committed change to a ticket, written in the
 * same transaction as the change. `seq` orders the log, and the writers make that order equal to
 * commit order (see event-log.ts), so "everything after seq N" is a gap-free resume point.
 * Subscribers resume with a cursor that encodes `seq`; single-ticket resumes use the
 * (ticket_id, seq) index.
 */
export class Migration20261201000000_ticket_events extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table ticket_events (
        seq bigint generated always as identity primary key,
        kind text not null check (kind in ('CREATED','STATUS_CHANGED','EDITED','REPLY_ADDED','REPLY_DELETED')),
        ticket_id uuid not null references tickets(id),
        actor_id integer not null references users(id),
        reply_id uuid references replies(id),
        at timestamptz(3) not null
      )`);
    this.addSql('create index ticket_events_ticket_idx on ticket_events (ticket_id, seq)');
  }

  override async down(): Promise<void> {
    this.addSql('drop table ticket_events');
  }
}
