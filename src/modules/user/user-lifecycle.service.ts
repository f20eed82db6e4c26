import { LockMode, type EntityManager } from '@mikro-orm/core';
import { execute } from '../../db/sql';
import { badInput, conflict, DomainError, ErrorCode, forbidden, notFound } from '../../shared/errors';
import type { AuthService } from '../auth/auth.service';
import type { SessionService } from '../session/session.service';
import { normalizeRoles, type Role } from './role';
import { readAudit, recordAudit, UserAuditAction, type AuditEntry, type AuditRecord } from './user-audit';
import type { UserChange, UserChangeSink } from './user-change';
import type { DirectoryUser, UserDirectory } from './user-directory';
import { User } from './user.entity';
import { validatePassword } from './user.service';
import type { Viewer } from './viewer';

export interface UpdateUserCommand {
  readonly roles?: readonly Role[] | null;
  readonly admin?: boolean | null;
  readonly active?: boolean | null;
}

export interface UserLifecycleOptions {
  readonly auth: AuthService;
  readonly sessions: SessionService;
  readonly directory: UserDirectory;
  readonly changes: UserChangeSink;
}

const NOT_ADMIN = 'You are not allowed to change users';
export const LAST_ADMIN_MESSAGE = 'The last active administrator cannot give up the admin flag or be deactivated';
export const MAX_AUDIT_PAGE = 200;

/**
 * Everything that changes a user after creation: roles, the admin flag, deactivation, passwords.
 * Each change is one transaction that also writes its audit entries, revokes the sessions it ends
 * and queues the notification every server process acts on (caches, open sockets, live
 * subscriptions); after the commit this process applies it at once.
 */
export class UserLifecycleService {
  constructor(private readonly options: UserLifecycleOptions) {}

  /**
   * Changes roles, the admin flag and/or `active` (administrators only). Deactivating ends every
   * session of the user. The last active administrator stays one.
   *
   * @throws DomainError FORBIDDEN (not an administrator), NOT_FOUND, BAD_INPUT (nothing to change,
   *   no roles), CONFLICT (it would leave no active administrator).
   */
  async update(em: EntityManager, viewer: Viewer, id: number, command: UpdateUserCommand): Promise<DirectoryUser> {
    if (!viewer.isAdmin) throw forbidden(NOT_ADMIN);
    const roles = command.roles == null ? undefined : normalizeRoles(command.roles);
    if (roles && roles.length === 0) throw badInput('roles', 'roles must name at least one role');
    const admin = command.admin ?? undefined;
    const active = command.active ?? undefined;
    if (roles === undefined && admin === undefined && active === undefined) {
      throw badInput('input', 'input must set roles, admin or active');
    }
    const changes = await em.transactional(async (tem) => {
      // Every active administrator's row first, in id order: two administrators demoting each
      // other at once serialise here, and the second sees that the first is gone.
      const admins = await execute<Array<{ id: number }>>(tem, 'select id from users where is_admin and active order by id for update');
      const user = await tem.findOne(User, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!user) throw notFound('User not found');
      const wasActiveAdmin = user.isAdmin && user.active;
      const audit: AuditRecord[] = [];
      if (roles && roles.join() !== normalizeRoles(user.roles).join()) {
        audit.push({ userId: id, actorId: viewer.id, action: UserAuditAction.ROLES_CHANGED, roles, previousRoles: normalizeRoles(user.roles) });
        user.roles = roles;
      }
      if (admin !== undefined && admin !== user.isAdmin) {
        audit.push({ userId: id, actorId: viewer.id, action: admin ? UserAuditAction.ADMIN_GRANTED : UserAuditAction.ADMIN_REVOKED });
        user.isAdmin = admin;
      }
      if (active !== undefined && active !== user.active) {
        audit.push({ userId: id, actorId: viewer.id, action: active ? UserAuditAction.REACTIVATED : UserAuditAction.DEACTIVATED });
        user.active = active;
      }
      if (wasActiveAdmin && !(user.isAdmin && user.active) && admins.every((each) => Number(each.id) === id)) {
        throw conflict(LAST_ADMIN_MESSAGE);
      }
      if (audit.length === 0) return [];
      await tem.flush();
      for (const entry of audit) await recordAudit(tem, entry);
      const ended = user.active ? [] : await this.options.sessions.revokeAllOf(tem, id);
      const changed: UserChange = { kind: 'user', userId: id };
      await this.options.changes.record(tem, changed);
      return [changed, ...ended];
    });
    for (const change of changes) this.options.changes.committed(change);
    const updated = await this.options.directory.byId(em.fork(), id);
    if (!updated) throw notFound('User not found');
    return updated;
  }

  /**
   * The viewer changes their own password, proving the current one (throttled like a login).
   * Every other session of theirs ends; the one this request came with, if any, goes on.
   *
   * @throws DomainError BAD_INPUT (current password wrong, new one breaks the rules),
   *   TOO_MANY_REQUESTS while throttled.
   */
  async changePassword(
    em: EntityManager,
    viewer: Viewer,
    command: { currentPassword: unknown; newPassword: unknown; currentSessionId?: string; clientAddress: string },
  ): Promise<void> {
    if (typeof command.currentPassword !== 'string' || command.currentPassword.length === 0 || command.currentPassword.length > 1024) {
      throw badInput('currentPassword', 'currentPassword is not your current password');
    }
    const next = validatePassword(command.newPassword, viewer.username, 'newPassword');
    if (next === command.currentPassword) throw badInput('newPassword', 'newPassword must differ from the current password');
    try {
      await this.options.auth.verifyPassword(viewer.username, command.currentPassword, command.clientAddress);
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.UNAUTHENTICATED) {
        throw badInput('currentPassword', 'currentPassword is not your current password');
      }
      throw error;
    }
    await this.setPassword(em, viewer.id, next, { actorId: viewer.id, action: UserAuditAction.PASSWORD_CHANGED, keepSessionId: command.currentSessionId });
  }

  /**
   * An administrator sets someone's password (the person forgot theirs); every session of that
   * user ends.
   *
   * @throws DomainError FORBIDDEN, NOT_FOUND, BAD_INPUT (the password breaks the rules).
   */
  async resetPassword(em: EntityManager, viewer: Viewer, id: number, newPassword: unknown): Promise<void> {
    if (!viewer.isAdmin) throw forbidden(NOT_ADMIN);
    const user = await this.options.directory.byId(em, id);
    if (!user) throw notFound('User not found');
    const next = validatePassword(newPassword, user.username, 'newPassword');
    await this.setPassword(em, id, next, { actorId: viewer.id, action: UserAuditAction.PASSWORD_RESET });
  }

  /**
   * A user's audit trail, newest first (administrators only).
   *
   * @throws DomainError FORBIDDEN, NOT_FOUND.
   */
  async audit(em: EntityManager, viewer: Viewer, userId: number, page: { limit: number; before?: number }): Promise<AuditEntry[]> {
    if (!viewer.isAdmin) throw forbidden('You are not allowed to read the audit trail');
    if (!(await this.options.directory.byId(em, userId))) throw notFound('User not found');
    return readAudit(em, userId, page);
  }

  private async setPassword(
    em: EntityManager,
    userId: number,
    password: string,
    how: { actorId: number; action: UserAuditAction; keepSessionId?: string },
  ): Promise<void> {
    const passwordHash = await this.options.auth.hasher.hash(password);
    const changes = await em.transactional(async (tem) => {
      const user = await tem.findOne(User, { id: userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!user) throw notFound('User not found');
      user.passwordHash = passwordHash;
      await tem.flush();
      await recordAudit(tem, { userId, actorId: how.actorId, action: how.action });
      const ended = await this.options.sessions.revokeAllOf(tem, userId, how.keepSessionId);
      const changed: UserChange = { kind: 'password', userId };
      await this.options.changes.record(tem, changed);
      return [changed, ...ended];
    });
    for (const change of changes) this.options.changes.committed(change);
  }
}
