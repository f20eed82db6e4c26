import { Migration } from '@mikro-orm/migrations';

/**
 * Each ticket's count of replies that are not deleted, kept on its row (issue 15, write path). A
 * reply is refused once its ticket holds MAX_REPLIES_PER_TICKET of them (issue 9); the statement
 * that adds one counted them every time, under the ticket's row lock, so a reply cost PostgreSQL
 * time in proportion to the replies before it (0.3 ms at 1,000 replies in one heap block run, 1.7
 * ms scattered over the table). The count now moves with the row it counts: adding a reply adds
 * one in the statement that inserts it (reply.service.ts `REPLY_CTES`), deleting one takes one
 * away in the deletion's transaction, both under the ticket's row lock; the check says it can
 * never go below zero. Filled here from the replies as they are.
 */
export class Migration20261208000000_reply_count extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table tickets add column reply_count integer not null default 0 constraint tickets_reply_count_check check (reply_count >= 0)');
    this.addSql(
      'update tickets t set reply_count = r.count from (select ticket_id, count(*)::integer as count from replies where deleted_at is null group by ticket_id) r where r.ticket_id = t.id',
    );
  }

  override async down(): Promise<void> {
    this.addSql('alter table tickets drop column reply_count');
  }
}
