import { Migration } from '@mikro-orm/migrations';

/**
 * A customer's or staff member's first page reads a page, not the table (issue 15, read path).
 *
 * `tickets` lists newest first (`created_at desc, id desc`) within the viewer's visibility:
 * `customer_id = ?` for a customer, `staff_id = ?` (the hidden statuses filtered) for a staff
 * member. With only (customer_id, id desc), (staff_id, id desc) and (created_at, id), PostgreSQL
 * either read every ticket of the viewer and sorted them, or walked the whole ordering backwards
 * and kept the viewer's: a customer whose 1,500 tickets were all older than the other 104,000
 * had the walk read 104,003 rows for a page of 50 (16 ms), in proportion to the table.
 * (customer_id, created_at, id) and (staff_id, created_at, id) give each viewer the ordering
 * itself, so a page reads its own rows, and a keyset page after a cursor starts at the cursor
 * (`test/finding/viewer-page-plan.test.ts`). The legacy lists (newest first by id) keep
 * (customer_id, id desc) and (staff_id, id desc).
 *
 * Not `create index concurrently` (migrations run in one transaction, db/database.ts): writes to
 * tickets wait while the two are built, about 0.2 s per 100,000 tickets on the benchmark's
 * machine (docs/operations.md, "Upgrades with migrations while running").
 */
export class Migration20261209000000_viewer_page_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql('create index tickets_customer_created_idx on tickets (customer_id, created_at, id)');
    this.addSql('create index tickets_staff_created_idx on tickets (staff_id, created_at, id) where staff_id is not null');
  }

  override async down(): Promise<void> {
    this.addSql('drop index tickets_staff_created_idx');
    this.addSql('drop index tickets_customer_created_idx');
  }
}
