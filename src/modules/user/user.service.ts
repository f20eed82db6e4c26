import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { badInput, conflict, DomainError, ErrorCode, forbidden } from '../../shared/errors';
import { PasswordHasher } from '../auth/password';
import type { StoredUser, UserLookup } from '../auth/auth.service';
import { COMMON_PASSWORDS } from './common-passwords';
import { recordAudit, UserAuditAction } from './user-audit';
import { normalizeRoles, Role } from './role';
import { User } from './user.entity';
import { Viewer } from './viewer';

export interface CreateUserCommand {
  readonly username: unknown;
  readonly password: unknown;
  readonly roles: readonly Role[];
  readonly isAdmin?: boolean;
}

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

function validateUsername(value: unknown): string {
  if (typeof value !== 'string' || !USERNAME_PATTERN.test(value)) {
    throw badInput('username', 'username must be 1 to 64 characters: letters, digits and . _ @ -, starting with a letter or digit');
  }
  return value;
}

/**
 * The password rules of every new password (createUser, changePassword, resetPassword).
 *
 * @param field the input field to name in the error.
 */
export function validatePassword(value: unknown, username: string, field = 'password'): string {
  if (typeof value !== 'string' || value.length < MIN_PASSWORD_LENGTH || value.length > MAX_PASSWORD_LENGTH) {
    throw badInput(field, `${field} must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(field, `${field} must not be blank`);
  // The first guesses of any attack: the account's own name and the passwords everyone uses.
  const lower = trimmed.toLowerCase();
  if (lower === username.toLowerCase()) throw badInput(field, `${field} must not be the username`);
  if (COMMON_PASSWORDS.has(lower)) throw badInput(field, `${field} is one of the most common passwords; choose another`);
  return value;
}

/** Users: administrators create them; authentication looks them up. */
export class UserService {
  /** @param hasher hashes new passwords (its parameters and its bound on concurrent hashes). */
  constructor(private readonly hasher: PasswordHasher = new PasswordHasher()) {}

  /** Creates a user; only administrators may. Usernames are unique (CONFLICT otherwise). */
  async create(em: EntityManager, viewer: Viewer, command: CreateUserCommand): Promise<User> {
    if (!viewer.isAdmin) throw forbidden('You are not allowed to create users');
    return this.insert(em, command, viewer.id);
  }

  /**
   * Creates the bootstrap administrator (every role) unless a user of that name exists.
   * Returns the password when it had to be generated, so the caller can print it once.
   */
  async ensureAdmin(em: EntityManager, username: string, password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    if (await em.count(User, { username })) return { created: false };
    const chosen = password ?? randomBytes(18).toString('base64url');
    try {
      await this.insert(em, { username, password: chosen, roles: [Role.CUSTOMER, Role.STAFF, Role.SCHEDULER], isAdmin: true }, null);
    } catch (error) {
      // Another process sharing the database created it first.
      if (error instanceof DomainError && error.code === ErrorCode.CONFLICT) return { created: false };
      throw error;
    }
    return { created: true, generatedPassword: password ? undefined : chosen };
  }

  /** The authentication module's view of the users table. */
  lookup(fork: () => EntityManager): UserLookup {
    return {
      findByUsername: async (username: string): Promise<StoredUser | null> => {
        if (!USERNAME_PATTERN.test(username)) return null;
        const user = await fork().findOne(User, { username }, { disableIdentityMap: true });
        return user
          ? { id: user.id, username: user.username, passwordHash: user.passwordHash, roles: user.roles, isAdmin: user.isAdmin, active: user.active }
          : null;
      },
      replacePasswordHash: async (userId: number, expected: string, replacement: string): Promise<boolean> => {
        // Conditional: a password changed meanwhile (another process, an administrator) wins.
        const updated = await fork().nativeUpdate(User, { id: userId, passwordHash: expected }, { passwordHash: replacement });
        return updated === 1;
      },
    };
  }

  /** Inserts the user and its CREATED audit entry in one transaction; `actorId` null is the server. */
  private async insert(em: EntityManager, command: CreateUserCommand, actorId: number | null): Promise<User> {
    const username = validateUsername(command.username);
    const password = validatePassword(command.password, username);
    const roles = normalizeRoles(command.roles);
    if (roles.length === 0) throw badInput('roles', 'roles must name at least one role');
    const isAdmin = command.isAdmin ?? false;
    const passwordHash = await this.hasher.hash(password);
    try {
      return await em.transactional(async (tem) => {
        const user = tem.create(User, { username, passwordHash, roles, isAdmin });
        await tem.flush();
        await recordAudit(tem, { userId: user.id, actorId, action: UserAuditAction.CREATED, roles, admin: isAdmin });
        return user;
      });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw conflict(`Username ${username} is already taken`);
      throw error;
    }
  }
}
