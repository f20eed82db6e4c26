import type { MikroORM } from '@mikro-orm/core';
import { DEFAULT_SESSION_TIMEOUTS, type AppConfig } from './config';
import { standaloneRunner } from './db/sql';
import { MeteredLoginThrottle } from './metrics/metered-login-throttle';
import type { Metrics } from './metrics/metrics';
import { AuthService } from './modules/auth/auth.service';
import { LoginThrottle, type LoginThrottleOptions } from './modules/auth/login-throttle';
import { PasswordHasher, SCRYPT_PARAMS, type ScryptParams } from './modules/auth/password';
import { PostgresThrottleStore, type ThrottleStore } from './modules/auth/throttle-store';
import type { ChangeSink } from './modules/event/ticket-change';
import { ImageService } from './modules/image/image.service';
import { ReplyService } from './modules/reply/reply.service';
import { SessionService } from './modules/session/session.service';
import { TicketReader } from './modules/ticket/ticket.query';
import { TicketService } from './modules/ticket/ticket.service';
import type { UserChangeSink } from './modules/user/user-change';
import { UserDirectory } from './modules/user/user-directory';
import { UserLifecycleService } from './modules/user/user-lifecycle.service';
import { UserService } from './modules/user/user.service';

/** The domain core every transport (GraphQL, legacy, uploads, subscriptions) calls into. */
export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly tickets: TicketService;
  readonly replies: ReplyService;
  readonly images: ImageService;
  readonly reader: TicketReader;
  /** Sign-in tokens. */
  readonly sessions: SessionService;
  /** Reads of users: the directory, and the facts `User` fields show. */
  readonly directory: UserDirectory;
  /** Changes to users after creation: roles, admin flag, deactivation, passwords, the audit trail. */
  readonly lifecycle: UserLifecycleService;
}

/** What the domain core is built from: the settings, the database, where changes go, and the test-only knobs. */
export interface ServicesDeps {
  readonly config: AppConfig;
  readonly orm: MikroORM;
  /** Ticket events (the event log and the bus) and user changes. */
  readonly changes: ChangeSink;
  readonly userChanges: UserChangeSink;
  readonly metrics?: Metrics;
  readonly loginThrottle?: LoginThrottleOptions;
  readonly testOnlyScryptParams?: ScryptParams;
}

/** Builds the domain core: one instance of each service, shared by every transport. */
export function createServices(deps: ServicesDeps): Services {
  const { config, orm, changes, metrics } = deps;
  const fork = () => orm.em.fork();
  const configuredParams = config.passwordScryptLog2N === undefined ? undefined : { ...SCRYPT_PARAMS, N: 2 ** config.passwordScryptLog2N };
  const hasher = new PasswordHasher({ params: deps.testOnlyScryptParams ?? configuredParams });
  const users = new UserService(hasher);
  // Several processes can share a PostgreSQL server: their failed-login limits must be one. The
  // embedded database has one process, so memory is enough there.
  const throttleStore: ThrottleStore | undefined = config.databaseUrl ? new PostgresThrottleStore(standaloneRunner(orm.em)) : undefined;
  const images = new ImageService();
  const tickets = new TicketService(images, changes);
  const core = {
    auth: new AuthService({
      key: config.credentialKey,
      users: users.lookup(fork),
      throttle: metrics
        ? new MeteredLoginThrottle({ ...deps.loginThrottle, store: throttleStore }, metrics)
        : new LoginThrottle({ ...deps.loginThrottle, store: throttleStore }),
      hasher,
    }),
    users,
    images,
    tickets,
    replies: new ReplyService(changes, { maxRepliesPerTicket: config.maxRepliesPerTicket }),
    reader: new TicketReader(),
  };
  // People (issue 11): sign-in tokens, the directory and the lifecycle, over the same bus as events.
  const sessions = new SessionService({
    auth: core.auth,
    fork,
    changes: deps.userChanges,
    settings: {
      idleTimeoutMs: config.sessionIdleTimeoutMs ?? DEFAULT_SESSION_TIMEOUTS.sessionIdleTimeoutMs,
      maxAgeMs: config.sessionMaxAgeMs ?? DEFAULT_SESSION_TIMEOUTS.sessionMaxAgeMs,
    },
  });
  const directory = new UserDirectory();
  return {
    ...core,
    sessions,
    directory,
    lifecycle: new UserLifecycleService({ auth: core.auth, sessions, directory, changes: deps.userChanges }),
  };
}
