import { Migration } from '@mikro-orm/migrations';

/**
 * Users, tickets, replies, operating history and images.
 *
 * Ticket ids are UUID v7 (time-ordered), so every list is an index range scan in id order:
 * the primary key serves the scheduler's list, and (customer_id, id) / (staff_id, id) /
 * (status, id) serve the customer's, the staff member's and the status-filtered ones.
 */
export class Migration20261128000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table users (
        id serial primary key,
        username varchar(64) not null unique,
        password_hash text not null,
        roles text[] not null check (cardinality(roles) > 0 and roles <@ array['CUSTOMER','STAFF','SCHEDULER']),
        is_admin boolean not null default false,
        created_at timestamptz(3) not null default now(),
        updated_at timestamptz(3) not null default now()
      )`);
    this.addSql(`
      create table images (
        id uuid primary key,
        uploader_id integer not null references users(id),
        mime text not null check (mime in ('image/png','image/jpeg','image/gif','image/webp')),
        size integer not null check (size > 0),
        data bytea not null,
        created_at timestamptz(3) not null default now()
      )`);
    this.addSql(`
      create table tickets (
        id uuid primary key,
        customer_id integer not null references users(id),
        scheduler_id integer references users(id),
        staff_id integer references users(id),
        content text not null,
        status smallint not null check (status between 1 and 8),
        image_ids uuid[] not null default '{}',
        created_at timestamptz(3) not null default now(),
        updated_at timestamptz(3) not null default now()
      )`);
    this.addSql('create index tickets_customer_idx on tickets (customer_id, id desc)');
    this.addSql('create index tickets_staff_idx on tickets (staff_id, id desc) where staff_id is not null');
    this.addSql('create index tickets_status_idx on tickets (status, id desc)');
    this.addSql(`
      create table replies (
        id uuid primary key,
        ticket_id uuid not null references tickets(id),
        author_id integer not null references users(id),
        content text not null,
        created_at timestamptz(3) not null default now(),
        deleted_at timestamptz(3)
      )`);
    this.addSql('create index replies_ticket_idx on replies (ticket_id, id) where deleted_at is null');
    this.addSql(`
      create table ticket_history (
        id uuid primary key,
        ticket_id uuid not null references tickets(id),
        actor_id integer not null references users(id),
        status smallint not null check (status between 1 and 8),
        at timestamptz(3) not null default now()
      )`);
    this.addSql('create index ticket_history_ticket_idx on ticket_history (ticket_id, id)');
  }

  override async down(): Promise<void> {
    this.addSql('drop table ticket_history');
    this.addSql('drop table replies');
    this.addSql('drop table tickets');
    this.addSql('drop table images');
    this.addSql('drop table users');
  }
}
