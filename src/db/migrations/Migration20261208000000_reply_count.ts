import { Migration } from '@mikro-orm/migrations';

/**
 * Each ticket's count of replies that are not deleted, kept on its row (issue 15, write path). A
 * reply is refused once its ticket holds MAX_REPLIES_PER_TICKET of them (issue 9); the statement
 * that adds one counted them every time, under the ticket's row lock, so a reply cost PostgreSQL
 * time in proportion to the replies before it (0.3 ms at 1,000 replies in one heap block run, 1.7
 * ms scattered over the table). Now the reply's statement reads `reply_count` on the locked row.
 *
 * The database keeps the count, not the code that writes replies: a trigger on `replies` moves
 * it for every row inserted, deleted, or updated into or out of being deleted (or onto another
 * ticket), in the writing statement's transaction. So it holds for every writer: during a
 * rolling upgrade the previous version, which knows nothing of the column, still adds and deletes
 * replies beside this one (docs/operations.md, "Upgrades with migrations while running"), and so
 * does anyone repairing data by hand. The writers of this version take the ticket's row lock
 * before they touch its replies, so the trigger's update waits for nothing new. The fill below
 * counts the replies as they are; a check keeps the count from going below zero.
 */
export class Migration20261208000000_reply_count extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table tickets add column reply_count integer not null default 0 constraint tickets_reply_count_check check (reply_count >= 0)');
    this.addSql(`create function replies_count_on_ticket() returns trigger language plpgsql as $$
      begin
        if tg_op in ('UPDATE', 'DELETE') and old.deleted_at is null then
          update tickets set reply_count = reply_count - 1 where id = old.ticket_id;
        end if;
        if tg_op in ('UPDATE', 'INSERT') and new.deleted_at is null then
          update tickets set reply_count = reply_count + 1 where id = new.ticket_id;
        end if;
        return null;
      end $$`);
    this.addSql(
      'create trigger replies_count_on_ticket after insert or update of deleted_at, ticket_id or delete on replies for each row execute function replies_count_on_ticket()',
    );
    this.addSql(
      'update tickets t set reply_count = r.count from (select ticket_id, count(*)::integer as count from replies where deleted_at is null group by ticket_id) r where r.ticket_id = t.id',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop trigger replies_count_on_ticket on replies');
    this.addSql('drop function replies_count_on_ticket()');
    this.addSql('alter table tickets drop column reply_count');
  }
}
