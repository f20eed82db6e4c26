import { Migration } from '@mikro-orm/migrations';

/**
 * Finding tickets (issue 12): the orderings of `tickets(orderBy)` and `search`.
 *
 * - (created_at, id) and (updated_at, id) serve the keyset pages of the CREATED_AT and
 *   UPDATED_AT orderings in both directions (ties broken by id); STATUS uses the existing
 *   (status, id desc).
 * - `search` is a case-insensitive substring match (ILIKE) over ticket content and the text of
 *   replies not deleted. Trigram GIN indexes (pg_trgm, shipped by PostgreSQL and by PGlite) serve
 *   it for any language, Chinese included, which has no spaces for a word-based full-text search
 *   to split on. The replies' index is partial: deleted replies are never searched.
 */
export class Migration20261205000000_ticket_finding extends Migration {
  override async up(): Promise<void> {
    this.addSql('create extension if not exists pg_trgm');
    this.addSql('create index tickets_created_idx on tickets (created_at, id)');
    this.addSql('create index tickets_updated_idx on tickets (updated_at, id)');
    this.addSql('create index tickets_content_trgm_idx on tickets using gin (content gin_trgm_ops)');
    this.addSql('create index replies_content_trgm_idx on replies using gin (content gin_trgm_ops) where deleted_at is null');
  }

  override async down(): Promise<void> {
    this.addSql('drop index replies_content_trgm_idx');
    this.addSql('drop index tickets_content_trgm_idx');
    this.addSql('drop index tickets_updated_idx');
    this.addSql('drop index tickets_created_idx');
  }
}
