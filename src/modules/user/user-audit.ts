import type { EntityManager } from '@mikro-orm/core';
import { execute } from '../../db/sql';
import { normalizeRoles, type Role } from './role';

/** What happened to a user. Passwords and tokens never appear in an entry, only that they changed. */
export enum UserAuditAction {
  CREATED = 'CREATED',
  ROLES_CHANGED = 'ROLES_CHANGED',
  ADMIN_GRANTED = 'ADMIN_GRANTED',
  ADMIN_REVOKED = 'ADMIN_REVOKED',
  DEACTIVATED = 'DEACTIVATED',
  REACTIVATED = 'REACTIVATED',
  PASSWORD_CHANGED = 'PASSWORD_CHANGED',
  PASSWORD_RESET = 'PASSWORD_RESET',
  /** An administrator ended one of this user's sessions. */
  SESSION_REVOKED = 'SESSION_REVOKED',
}

export interface AuditRecord {
  readonly userId: number;
  /** Null for the server itself (the bootstrap administrator). */
  readonly actorId: number | null;
  readonly action: UserAuditAction;
  /** CREATED and ROLES_CHANGED: the roles after. */
  readonly roles?: readonly Role[];
  /** ROLES_CHANGED: the roles before. */
  readonly previousRoles?: readonly Role[];
  /** CREATED: whether the user was made an administrator. */
  readonly admin?: boolean;
}

export interface AuditEntry extends Required<Pick<AuditRecord, 'userId' | 'actorId' | 'action'>> {
  readonly id: string;
  readonly roles: Role[] | null;
  readonly previousRoles: Role[] | null;
  readonly admin: boolean | null;
  /** ms since the epoch. */
  readonly at: number;
}

const pgArray = (values: readonly string[] | undefined): string | null => (values ? `{${values.join(',')}}` : null);

/** Appends an entry inside the caller's transaction, so a change and its record commit together. */
export async function recordAudit(tem: EntityManager, record: AuditRecord): Promise<void> {
  await execute(tem, 'insert into user_audit (user_id, actor_id, action, roles, previous_roles, admin) values (?, ?, ?, ?::text[], ?::text[], ?)', [
    record.userId,
    record.actorId,
    record.action,
    pgArray(record.roles),
    pgArray(record.previousRoles),
    record.admin ?? null,
  ]);
}

interface AuditRow {
  id: string | number;
  user_id: number;
  actor_id: number | null;
  action: UserAuditAction;
  roles: Role[] | null;
  previous_roles: Role[] | null;
  admin: boolean | null;
  at: number;
}

/** A user's entries, newest first, `limit` of them older than entry `before` (keyset). */
export async function readAudit(em: EntityManager, userId: number, options: { limit: number; before?: number }): Promise<AuditEntry[]> {
  const rows = await execute<AuditRow[]>(
    em,
    `select id, user_id, actor_id, action, roles, previous_roles, admin, (extract(epoch from at) * 1000)::float8 as at
       from user_audit where user_id = ? ${options.before !== undefined ? 'and id < ?' : ''}
      order by id desc limit ?`,
    [userId, ...(options.before !== undefined ? [options.before] : []), options.limit],
  );
  return rows.map((row) => ({
    id: String(row.id),
    userId: Number(row.user_id),
    actorId: row.actor_id === null ? null : Number(row.actor_id),
    action: row.action,
    roles: row.roles ? normalizeRoles(row.roles) : null,
    previousRoles: row.previous_roles ? normalizeRoles(row.previous_roles) : null,
    admin: row.admin,
    at: Number(row.at),
  }));
}
