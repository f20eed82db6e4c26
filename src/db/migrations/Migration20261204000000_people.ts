import { Migration } from '@mikro-orm/migrations';

/**
 * People (issue 11): accounts can be switched off, sign-in tokens, the user directory's search
 * and every change to a user on record.
 *
 * - `users.active`: a deactivated user keeps their row (tickets, history and replies point at it)
 *   but can no longer sign in.
 * - `users_username_trgm_idx`: the directory's `search` is a case-insensitive substring match
 *   (`ilike '%term%'`), which a btree cannot serve; a trigram GIN index can (terms of 3 characters
 *   or more). `pg_trgm` ships with PostgreSQL and with PGlite (database.ts loads it there).
 * - `tickets_staff_open_idx`: a staff member's load (open tickets assigned to them) counts only
 *   ASSIGNED (2), REQUEST_INFORMATION (6) and IN_PROCESSING (8) tickets, so the count reads those
 *   rows and not every ticket they ever closed.
 * - `sessions`: sign-in tokens, stored as the SHA-256 of the token only. `expires_at` is the
 *   maximum age; idle expiry is `last_used_at` plus the configured idle timeout.
 * - `user_audit`: who changed what about a user, and when. Never a password or a token.
 */
export class Migration20261204000000_people extends Migration {
  override async up(): Promise<void> {
    this.addSql('create extension if not exists pg_trgm');
    this.addSql('alter table users add column active boolean not null default true');
    this.addSql('create index users_username_trgm_idx on users using gin (username gin_trgm_ops)');
    this.addSql('create index tickets_staff_open_idx on tickets (staff_id) where status in (2, 6, 8)');
    this.addSql(`
      create table sessions (
        id uuid primary key,
        user_id integer not null references users(id),
        token_digest char(64) not null unique,
        created_at timestamptz(3) not null,
        last_used_at timestamptz(3) not null,
        expires_at timestamptz(3) not null,
        revoked_at timestamptz(3),
        user_agent varchar(200)
      )`);
    this.addSql('create index sessions_user_idx on sessions (user_id, created_at desc)');
    this.addSql(`
      create table user_audit (
        id bigserial primary key,
        user_id integer not null references users(id),
        actor_id integer references users(id),
        action varchar(32) not null,
        roles text[],
        previous_roles text[],
        admin boolean,
        at timestamptz(3) not null default now()
      )`);
    this.addSql('create index user_audit_user_idx on user_audit (user_id, id desc)');
  }

  override async down(): Promise<void> {
    this.addSql('drop table user_audit');
    this.addSql('drop table sessions');
    this.addSql('drop index tickets_staff_open_idx');
    this.addSql('drop index users_username_trgm_idx');
    this.addSql('alter table users drop column active');
  }
}
