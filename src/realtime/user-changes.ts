import type { EntityManager } from '@mikro-orm/core';
import type { UserChange, UserChangeSink } from '../modules/user/user-change';
import type { Viewer } from '../modules/user/viewer';
import type { Services } from '../services';
import type { BusLogger, EventBus } from './event-bus';
import type { TicketEventHub } from './event-hub';
import type { LiveSignIn, LiveSignIns } from './live-sign-ins';

/** Where the user services' changes go: onto the bus, inside their transaction and after it. */
export class UserChangeBusSink implements UserChangeSink {
  constructor(private readonly bus: EventBus) {}

  record(tem: EntityManager, change: UserChange): Promise<void> {
    return this.bus.announceUserChangeInTransaction(tem, change);
  }

  committed(change: UserChange): void {
    this.bus.announceUserChangeCommitted(change);
  }
}

export interface UserChangeFanOutOptions {
  readonly services: Services;
  /** The sign-ins of this process's sockets and streams. */
  readonly sockets: LiveSignIns;
  readonly hub: TicketEventHub;
  readonly fork: () => EntityManager;
  readonly logger: BusLogger & { error(object: object, message: string): void };
  /**
   * How often open sockets' sign-ins are checked against the database even without a change (a
   * lost notification, an idle or expired session) and marked used. Default: a quarter of the
   * session idle timeout, at most 30 s.
   */
  readonly recheckMs?: number;
}

const sameViewer = (a: Viewer, b: Viewer): boolean =>
  a.username === b.username && a.isAdmin === b.isAdmin && a.roles.length === b.roles.length && a.roles.every((role, i) => role === b.roles[i]);

/**
 * What a change to a user does on this process, whichever process made it ("sockets" are the
 * graphql-ws sockets and graphql-sse streams of live-sign-ins.ts; a stream is ended with an
 * UNAUTHENTICATED error where a socket is closed with 4403):
 * - `user` (roles, admin flag, `active`): forget cached credentials and tokens of that user, read
 *   the user again, close their sockets (4403) if deactivated, else hand the new viewer to their
 *   sockets and live subscriptions (visibility is decided with it from the next event on);
 * - `password`: forget their cached credentials; close the sockets opened with a credential (the
 *   old password); the sessions that ended arrive as `session` changes;
 * - `session`: forget that token; close the sockets opened with it.
 *
 * Notifications are fast but not guaranteed (a reconnect loses those sent meanwhile, Redis
 * delivers at most once), so every open socket's sign-in is also checked against the database
 * every `recheckMs`, and a token's maximum age closes its sockets on the second.
 */
export class UserChangeFanOut {
  private readonly recheckMs: number;
  private readonly expiryTimer: NodeJS.Timeout;
  private readonly recheckTimer: NodeJS.Timeout;
  private closed = false;
  private rechecking: Promise<void> | undefined;

  constructor(private readonly options: UserChangeFanOutOptions) {
    const idle = options.services.sessions.settings.idleTimeoutMs;
    this.recheckMs = options.recheckMs ?? Math.max(250, Math.min(30_000, Math.floor(idle / 4)));
    this.expiryTimer = setInterval(() => this.closeExpired(), 1_000);
    this.expiryTimer.unref();
    this.recheckTimer = setInterval(() => void this.recheck(), this.recheckMs);
    this.recheckTimer.unref();
    options.sockets.onMissedChanges((signIn, missed) => this.catchUp(signIn, missed));
  }

  /** The bus listener. */
  readonly onChange = (change?: UserChange): void => {
    if (this.closed) return;
    const { services, sockets } = this.options;
    sockets.noteChange(change);
    if (!change) {
      // Changes may have been missed: nothing cached is trusted, every socket is checked.
      services.sessions.forgetAll();
      for (const userId of new Set(sockets.signInsOf().map((signIn) => signIn.viewer.id))) services.auth.invalidateUser(userId);
      void this.recheck();
      return;
    }
    if (change.kind === 'session') {
      services.sessions.forgetSession(change.sessionId as string);
      sockets.closeSignIns(
        sockets.signInsOf(change.userId).filter((signIn) => signIn.sessionId === change.sessionId),
        'Session ended',
      );
      return;
    }
    // Synchronously, before anything else runs on this process: the next request reads afresh.
    services.auth.invalidateUser(change.userId);
    services.sessions.forgetUser(change.userId);
    if (change.kind === 'password') {
      sockets.closeSignIns(
        sockets.signInsOf(change.userId).filter((signIn) => signIn.sessionId === undefined),
        'Password changed',
      );
      return;
    }
    if (sockets.signInsOf(change.userId).length === 0) return;
    this.refreshUsers([change.userId]).catch((error: unknown) => {
      this.options.logger.error({ err: error, userId: change.userId }, 'applying a user change to open sockets failed');
    });
  };

  /**
   * A connection that was being authenticated while changes to its user arrived: its sign-in may
   * have been read before them, so they are applied to it as they were to the others. A password
   * change closes it if it was opened with a credential (whether that credential carried the old
   * password or the new one cannot be told here; the client signs in again).
   */
  private catchUp(signIn: LiveSignIn, missed: ReadonlyArray<UserChange | undefined>): void {
    const { sockets } = this.options;
    let reread = false;
    for (const change of missed) {
      if (change === undefined) {
        void this.recheck();
        return;
      }
      if (change.kind === 'session' && change.sessionId === signIn.sessionId) return sockets.closeSignIns([signIn], 'Session ended');
      if (change.kind === 'password' && signIn.sessionId === undefined) return sockets.closeSignIns([signIn], 'Password changed');
      if (change.kind === 'user') reread = true;
    }
    if (!reread) return;
    this.refreshUsers([signIn.viewer.id]).catch((error: unknown) => {
      this.options.logger.error({ err: error, userId: signIn.viewer.id }, 'applying a user change to a new connection failed');
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.expiryTimer);
    clearInterval(this.recheckTimer);
  }

  /** Reads these users and applies what changed to their sockets and subscriptions. */
  private async refreshUsers(userIds: readonly number[]): Promise<void> {
    const { services, sockets, hub } = this.options;
    const users = await services.directory.byIds(this.options.fork(), userIds);
    for (const userId of userIds) {
      const signIns = sockets.signInsOf(userId);
      if (signIns.length === 0) continue;
      const user = users.get(userId);
      if (!user || !user.active) {
        sockets.closeSignIns(signIns, 'Account deactivated');
        continue;
      }
      const viewer: Viewer = Object.freeze({ id: user.id, username: user.username, roles: Object.freeze([...user.roles]), isAdmin: user.isAdmin });
      // Each connection on its own: one opened while a change arrived may hold an older viewer than the rest.
      const stale = signIns.filter((signIn) => !sameViewer(signIn.viewer, viewer));
      if (stale.length === 0) continue;
      for (const signIn of stale) signIn.viewer = viewer;
      hub.updateViewer(viewer);
    }
  }

  /** Tokens past their maximum age: their sockets close now, not at the next recheck. */
  private closeExpired(): void {
    const now = Date.now();
    const expired = this.options.sockets.signInsOf().filter((signIn) => signIn.expiresAt !== undefined && signIn.expiresAt <= now);
    if (expired.length) this.options.sockets.closeSignIns(expired, 'Session expired');
  }

  /** Every open socket's user and session against the database; sessions in use are marked used. */
  private recheck(): Promise<void> {
    this.rechecking ??= this.checkOpenSockets().finally(() => {
      this.rechecking = undefined;
    });
    return this.rechecking;
  }

  private async checkOpenSockets(): Promise<void> {
    try {
      const { services, sockets } = this.options;
      const signIns = sockets.signInsOf();
      if (signIns.length === 0) return;
      const sessionIds = [...new Set(signIns.flatMap((signIn) => (signIn.sessionId ? [signIn.sessionId] : [])))];
      const live = await services.sessions.touchLive(sessionIds);
      const ended: LiveSignIn[] = signIns.filter((signIn) => signIn.sessionId !== undefined && !live.has(signIn.sessionId));
      if (ended.length) sockets.closeSignIns(ended, 'Session ended');
      await this.refreshUsers([...new Set(signIns.map((signIn) => signIn.viewer.id))]);
    } catch (error) {
      this.options.logger.error({ err: error }, 'checking open sockets against the database failed');
    }
  }
}
