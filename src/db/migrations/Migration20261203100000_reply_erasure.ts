import { Migration } from '@mikro-orm/migrations';

/**
 * Deleted means gone: a deleted reply keeps its row (id, ticket, author, dates: the record that a
 * reply existed and when it went, which REPLY_DELETED events name) but not its text. `content`
 * becomes nullable, null exactly when the reply is deleted, and the text of replies deleted
 * before this migration is erased now.
 */
export class Migration20261203100000_reply_erasure extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table replies alter column content drop not null');
    this.addSql('update replies set content = null where deleted_at is not null');
    this.addSql('alter table replies add constraint replies_deleted_text_erased check ((deleted_at is null) = (content is not null))');
  }

  override async down(): Promise<void> {
    this.addSql('alter table replies drop constraint replies_deleted_text_erased');
    this.addSql("update replies set content = '' where content is null");
    this.addSql('alter table replies alter column content set not null');
  }
}
