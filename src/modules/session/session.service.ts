import type { EntityManager } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { execute } from '../../db/sql';
import { badInput, forbidden, notFound, unauthenticated } from '../../shared/errors';
import type { AuthService } from '../auth/auth.service';
import { normalizeRoles, type Role } from '../user/role';
import { recordAudit, UserAuditAction } from '../user/user-audit';
import type { UserChange, UserChangeSink } from '../user/user-change';
import type { Viewer } from '../user/viewer';
import { isTokenShaped, newToken, tokenDigest } from './session-token';

/** How long sessions live (config.ts). */
export interface SessionSettings {
  readonly idleTimeoutMs: number;
  readonly maxAgeMs: number;
}

/** A session as stored, times in ms since the epoch. Never carries the token. */
export interface SessionRecord {
  readonly id: string;
  readonly userId: number;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly userAgent: string | null;
}

/** What `login` hands back: the token, shown this once and never stored. */
export interface SignedIn {
  readonly token: string;
  readonly session: SessionRecord;
  readonly viewer: Viewer;
}

/** A verified token. */
export interface TokenViewer {
  readonly viewer: Viewer;
  readonly sessionId: string;
  /** The session's maximum age (sockets opened with it close then). */
  readonly expiresAt: number;
}

export interface LoginCommand {
  readonly username: unknown;
  readonly password: unknown;
  readonly clientAddress: string;
  readonly userAgent?: string;
}

export interface SessionServiceOptions {
  readonly auth: AuthService;
  readonly fork: () => EntityManager;
  readonly changes: UserChangeSink;
  readonly settings: SessionSettings;
  /** How long a verified token is trusted in memory before the database is asked again. Default 15 s. */
  readonly cacheTtlMs?: number;
  /** Live sessions one user may hold; signing in beyond it ends the least recently used. Default 100. */
  readonly maxSessionsPerUser?: number;
  readonly now?: () => number;
}

interface CacheEntry {
  readonly viewer: Viewer;
  readonly sessionId: string;
  readonly expiresAt: number;
  lastUsedAt: number;
  checkedAt: number;
}

interface SessionRow {
  id: string;
  user_id: number;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
  user_agent: string | null;
}

interface TokenRow {
  id: string;
  user_id: number;
  expires_at: number;
  last_used_at: number;
  username: string;
  roles: Role[];
  is_admin: boolean;
}

const MAX_USERNAME_LENGTH = 64;
const MAX_PASSWORD_LENGTH = 1024;
const MAX_USER_AGENT_LENGTH = 200;
/** Ended sessions are kept this long for the session list's sake, then deleted at the next sign-in. */
const ENDED_RETENTION_MS = 30 * 24 * 3_600_000;
const MAX_CACHE_ENTRIES = 10_000;

const epochMs = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;
const SESSION_COLUMNS = `id, user_id, ${epochMs('created_at')} as created_at, ${epochMs('last_used_at')} as last_used_at,
  ${epochMs('expires_at')} as expires_at, ${epochMs('revoked_at')} as revoked_at, user_agent`;

const toRecord = (row: SessionRow): SessionRecord => ({
  id: row.id,
  userId: Number(row.user_id),
  createdAt: Number(row.created_at),
  lastUsedAt: Number(row.last_used_at),
  expiresAt: Number(row.expires_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  userAgent: row.user_agent,
});

const pgArray = (values: readonly string[]): string => `{${values.join(',')}}`;

/**
 * Sign-in tokens (issue 11): `login` checks a username and password through the same throttled
 * check as credentials (`AuthService.verifyPassword`) and stores a session keyed by the token's
 * digest; `authenticate` turns a token back into its viewer.
 *
 * Every request must not cost a database write, so a verified token is remembered in memory and
 * the database is asked again (one UPDATE that checks and touches `last_used_at` at once) only
 * every few seconds. What must not wait for that (a revocation, a deactivation, a role change)
 * arrives over the event bus and calls `forgetSession` / `forgetUser` on every process.
 */
export class SessionService {
  readonly settings: SessionSettings;
  private readonly auth: AuthService;
  private readonly fork: () => EntityManager;
  private readonly changes: UserChangeSink;
  private readonly cacheTtlMs: number;
  private readonly touchIntervalMs: number;
  private readonly maxSessionsPerUser: number;
  private readonly now: () => number;
  /** By token digest; Map order is least recently used first. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<TokenViewer>>();
  /** Bumped by every invalidation: a lookup that started before must not cache what it read. */
  private generation = 0;

  constructor(options: SessionServiceOptions) {
    this.auth = options.auth;
    this.fork = options.fork;
    this.changes = options.changes;
    this.settings = options.settings;
    this.now = options.now ?? Date.now;
    this.cacheTtlMs = options.cacheTtlMs ?? 15_000;
    this.maxSessionsPerUser = options.maxSessionsPerUser ?? 100;
    // Touch often enough that another process never sees a session in use as idle.
    this.touchIntervalMs = Math.max(1, Math.min(60_000, Math.floor(this.settings.idleTimeoutMs / 4)));
  }

  /**
   * Signs in: checks the password (throttled like every credential check) and starts a session.
   *
   * @throws DomainError BAD_INPUT for a username or password longer than any account can have
   *   (refused before any hashing), UNAUTHENTICATED for a wrong username or password or a
   *   deactivated account, TOO_MANY_REQUESTS while throttled.
   */
  async login(em: EntityManager, command: LoginCommand): Promise<SignedIn> {
    const { username, password } = command;
    if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
      throw badInput('username', `username must be 1 to ${MAX_USERNAME_LENGTH} characters`);
    }
    if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
      throw badInput('password', `password must be 1 to ${MAX_PASSWORD_LENGTH} characters`);
    }
    const viewer = await this.auth.verifyPassword(username, password, command.clientAddress);
    const token = newToken();
    const now = this.now();
    const record: SessionRecord = {
      id: randomUUID(),
      userId: viewer.id,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.settings.maxAgeMs,
      revokedAt: null,
      userAgent: command.userAgent ? command.userAgent.slice(0, MAX_USER_AGENT_LENGTH) : null,
    };
    const ended = await em.transactional(async (tem) => {
      await execute(
        tem,
        `insert into sessions (id, user_id, token_digest, created_at, last_used_at, expires_at, user_agent)
         values (?, ?, ?, ?, ?, ?, ?)`,
        [record.id, record.userId, tokenDigest(token), new Date(now), new Date(now), new Date(record.expiresAt), record.userAgent],
      );
      await execute(tem, 'delete from sessions where user_id = ? and (revoked_at < ? or expires_at < ?)', [
        viewer.id,
        new Date(now - ENDED_RETENTION_MS),
        new Date(now - ENDED_RETENTION_MS),
      ]);
      // One user may not pile up sessions without bound: beyond the limit the least recently used go.
      const surplus = await execute<Array<{ id: string }>>(
        tem,
        `update sessions set revoked_at = ? where id in (
           select id from sessions where user_id = ? and revoked_at is null and expires_at > ?
           order by last_used_at desc, created_at desc offset ?)
         returning id`,
        [new Date(now), viewer.id, new Date(now), this.maxSessionsPerUser],
      );
      const changes = surplus.map((row): UserChange => ({ kind: 'session', userId: viewer.id, sessionId: row.id }));
      for (const change of changes) await this.changes.record(tem, change);
      return changes;
    });
    for (const change of ended) this.changes.committed(change);
    return { token, session: record, viewer };
  }

  /**
   * The viewer a token belongs to.
   *
   * @throws DomainError UNAUTHENTICATED for anything but a live session of an active user, with
   *   the one message every authentication failure has.
   */
  async authenticate(token: unknown): Promise<TokenViewer> {
    if (!isTokenShaped(token)) throw unauthenticated();
    const digest = tokenDigest(token);
    const now = this.now();
    const cached = this.cache.get(digest);
    if (cached) {
      this.cache.delete(digest);
      if (now >= cached.expiresAt) throw unauthenticated();
      const fresh = now - cached.checkedAt < this.cacheTtlMs && now - cached.lastUsedAt < this.touchIntervalMs;
      if (fresh) {
        this.cache.set(digest, cached);
        return { viewer: cached.viewer, sessionId: cached.sessionId, expiresAt: cached.expiresAt };
      }
    }
    const pending = this.inFlight.get(digest);
    if (pending) return pending;
    const lookup = this.refresh(digest).finally(() => {
      if (this.inFlight.get(digest) === lookup) this.inFlight.delete(digest);
    });
    this.inFlight.set(digest, lookup);
    return lookup;
  }

  /**
   * Checks the session in the database and marks it used, in one statement: it matches only a
   * live session (not revoked, not past its maximum age, not idle) of an active user.
   */
  private async refresh(digest: string): Promise<TokenViewer> {
    const generation = this.generation;
    const now = this.now();
    const rows = await execute<TokenRow[]>(
      this.fork(),
      `update sessions s set last_used_at = ?
         from users u
        where s.token_digest = ? and u.id = s.user_id and u.active
          and s.revoked_at is null and s.expires_at > ? and s.last_used_at > ?
       returning s.id, s.user_id, ${epochMs('s.expires_at')} as expires_at, u.username, u.roles, u.is_admin`,
      [new Date(now), digest, new Date(now), new Date(now - this.settings.idleTimeoutMs)],
    );
    const row = rows[0];
    if (!row) throw unauthenticated();
    const viewer: Viewer = Object.freeze({
      id: Number(row.user_id),
      username: row.username,
      roles: Object.freeze(normalizeRoles(row.roles)),
      isAdmin: row.is_admin,
    });
    const entry: CacheEntry = { viewer, sessionId: row.id, expiresAt: Number(row.expires_at), lastUsedAt: now, checkedAt: now };
    if (generation === this.generation) {
      this.cache.set(digest, entry);
      while (this.cache.size > MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    }
    return { viewer, sessionId: entry.sessionId, expiresAt: entry.expiresAt };
  }

  /** The viewer's live sessions (an administrator may ask for anyone's), most recently used first. */
  async list(em: EntityManager, viewer: Viewer, userId: number = viewer.id): Promise<SessionRecord[]> {
    if (userId !== viewer.id && !viewer.isAdmin) throw forbidden('You are not allowed to list the sessions of another user');
    const now = this.now();
    const rows = await execute<SessionRow[]>(
      em,
      `select ${SESSION_COLUMNS} from sessions
        where user_id = ? and revoked_at is null and expires_at > ? and last_used_at > ?
        order by last_used_at desc, created_at desc limit ?`,
      [userId, new Date(now), new Date(now - this.settings.idleTimeoutMs), this.maxSessionsPerUser],
    );
    return rows.map(toRecord);
  }

  /**
   * Ends one session: the viewer's own, or anyone's for an administrator. Ending a session that
   * has already ended is not an error.
   *
   * @throws DomainError NOT_FOUND when there is no such session, FORBIDDEN when it is someone
   *   else's and the viewer is not an administrator.
   */
  async revoke(em: EntityManager, viewer: Viewer, sessionId: string): Promise<void> {
    const change = await em.transactional(async (tem) => {
      const rows = await execute<SessionRow[]>(tem, `select ${SESSION_COLUMNS} from sessions where id = ? for update`, [sessionId]);
      const session = rows[0] ? toRecord(rows[0]) : undefined;
      if (!session) throw notFound('Session not found');
      if (session.userId !== viewer.id && !viewer.isAdmin) throw forbidden('You are not allowed to revoke this session');
      if (session.revokedAt !== null) return undefined;
      await execute(tem, 'update sessions set revoked_at = ? where id = ?', [new Date(this.now()), sessionId]);
      if (session.userId !== viewer.id) {
        await recordAudit(tem, { userId: session.userId, actorId: viewer.id, action: UserAuditAction.SESSION_REVOKED });
      }
      const revoked: UserChange = { kind: 'session', userId: session.userId, sessionId };
      await this.changes.record(tem, revoked);
      return revoked;
    });
    if (change) this.committed([change]);
  }

  /**
   * Inside the caller's transaction: ends every live session of `userId` but `exceptSessionId`
   * and records the changes. The caller reports them with {@link committed} after its commit.
   */
  async revokeAllOf(tem: EntityManager, userId: number, exceptSessionId?: string): Promise<UserChange[]> {
    const rows = await execute<Array<{ id: string }>>(
      tem,
      `update sessions set revoked_at = ? where user_id = ? and revoked_at is null and expires_at > ?
         ${exceptSessionId ? 'and id <> ?' : ''} returning id`,
      [new Date(this.now()), userId, new Date(this.now()), ...(exceptSessionId ? [exceptSessionId] : [])],
    );
    const changes = rows.map((row): UserChange => ({ kind: 'session', userId, sessionId: row.id }));
    for (const change of changes) await this.changes.record(tem, change);
    return changes;
  }

  /** Reports revocations after their commit (this process forgets them at once through the bus). */
  committed(changes: readonly UserChange[]): void {
    for (const change of changes) this.changes.committed(change);
  }

  /**
   * Of these sessions, the ones still live, each marked used now: open sockets count as use, and
   * the sockets of the others are closed by the caller (realtime/user-changes.ts).
   */
  async touchLive(sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const now = this.now();
    const rows = await execute<Array<{ id: string }>>(
      this.fork(),
      `update sessions s set last_used_at = ?
         from users u
        where s.id = any(?::uuid[]) and u.id = s.user_id and u.active
          and s.revoked_at is null and s.expires_at > ? and s.last_used_at > ?
       returning s.id`,
      [new Date(now), pgArray(sessionIds), new Date(now), new Date(now - this.settings.idleTimeoutMs)],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Forgets one session's cached verification (it was revoked). */
  forgetSession(sessionId: string): void {
    this.generation += 1;
    for (const [digest, entry] of this.cache) if (entry.sessionId === sessionId) this.cache.delete(digest);
    this.inFlight.clear();
  }

  /** Forgets every cached verification of a user's tokens (roles, admin flag or `active` changed). */
  forgetUser(userId: number): void {
    this.generation += 1;
    for (const [digest, entry] of this.cache) if (entry.viewer.id === userId) this.cache.delete(digest);
    this.inFlight.clear();
  }

  /** Forgets everything (notifications may have been lost). */
  forgetAll(): void {
    this.generation += 1;
    this.cache.clear();
    this.inFlight.clear();
  }
}
