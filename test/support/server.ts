import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createApp, type App, type AppOptions } from '../../src/app';
import type { AppConfig } from '../../src/config';
import { encodeCredential } from '../../src/modules/auth/credential';
import { Role } from '../../src/modules/user/role';
import { User } from '../../src/modules/user/user.entity';
import { openDatabase, type Database, type DatabaseKind } from '../../src/db/database';
import { embeddedTemplate } from './embedded-template';
import { createDatabaseOn } from './postgres';

export type { DatabaseKind };

/**
 * Test servers: the real app on a real database, listening on a loopback port. Every suite runs
 * on the embedded database, and on the PostgreSQL server too when TEST_DATABASE_URL is set
 * (each server gets a fresh database of its own there, dropped on close).
 */

export const DATABASES: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['embedded', 'postgres'] : ['embedded'];

export const PASSWORD = 'correct horse battery';

/**
 * Password hashes in tests: scrypt N=2^12 (4 MiB, milliseconds) instead of OWASP's N=2^17
 * (128 MiB, hundreds of ms), through the test-only `AppOptions.testOnlyScryptParams`, so the
 * suites that create users by the dozen stay fast. Suites about hashing pass their own.
 */
export const TEST_SCRYPT_PARAMS = Object.freeze({ N: 2 ** 12, r: 8, p: 1 });
export const ADMIN = { username: 'admin', password: 'admin password 1' };

export interface TestUser {
  readonly id: number;
  readonly username: string;
  readonly roles: Role[];
  readonly credential: string;
}

/** The fixed cast of every integration test. */
export const FIXTURE_USERS = {
  customer: [Role.CUSTOMER],
  otherCustomer: [Role.CUSTOMER],
  staff: [Role.STAFF],
  otherStaff: [Role.STAFF],
  scheduler: [Role.SCHEDULER],
  multi: [Role.CUSTOMER, Role.STAFF],
} satisfies Record<string, Role[]>;

export type FixtureName = keyof typeof FIXTURE_USERS;

export interface TestServer {
  readonly app: App;
  readonly url: string;
  readonly kind: DatabaseKind;
  readonly key: Buffer;
  readonly users: Record<FixtureName | 'admin', TestUser>;
  /** Every SQL statement sent since the last reset. */
  readonly queries: string[];
  credential(username: string, password: string): string;
  close(): Promise<void>;
}

/** A fresh PostgreSQL database on the TEST_DATABASE_URL server; returns its URL and a dropper. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  return createDatabaseOn(base, 'helpdesk_test');
}

/**
 * A database of its own for a suite that works below the server (migrations, the SQL helpers): a
 * fresh PostgreSQL database, dropped by `close`, or an in-memory PGlite.
 */
export async function openFreshDatabase(kind: DatabaseKind, options: { poolSize?: number } = {}): Promise<{ database: Database; close: () => Promise<void> }> {
  if (kind === 'embedded') {
    const database = await openDatabase({});
    return { database, close: () => database.close() };
  }
  const { url, drop } = await createPostgresDatabase();
  let database: Database;
  try {
    database = await openDatabase({ databaseUrl: url, ...options });
  } catch (error) {
    await drop();
    throw error;
  }
  return {
    database,
    close: async () => {
      await database.close();
      await drop();
    },
  };
}

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    credentialKey: randomBytes(32),
    credentialKeySource: 'test',
    adminUsername: ADMIN.username,
    adminPassword: ADMIN.password,
    logLevel: 'silent',
    // PostgreSQL's hang bounds (5 s by default) are for a database that stops answering; on a
    // loaded CI machine a busy suite can wait that long for a pooled connection. The suites that
    // test the bounds (test/security/db-hang, ws-outage-close) set their own.
    databaseStatementTimeoutMs: 30_000,
    databaseAcquireTimeoutMs: 30_000,
    ...overrides,
  };
}

export interface StartOptions extends AppOptions {
  config?: Partial<AppConfig>;
  /** Skip creating the fixture users. */
  bare?: boolean;
}

export async function startServer(kind: DatabaseKind, options: StartOptions = {}): Promise<TestServer> {
  // A given databaseUrl is reused as it is (a restart, a second process): neither created nor dropped here.
  const database = kind === 'postgres' && !options.config?.databaseUrl ? await createPostgresDatabase() : undefined;
  const queries: string[] = [];
  const config = testConfig({ databaseUrl: database?.url, ...options.config });
  const inMemory = kind === 'embedded' && !config.databaseUrl && !config.dataDir;
  const app = await createApp(config, {
    testOnlyEmbeddedTemplate: inMemory ? await embeddedTemplate() : undefined,
    // TEST_LOG=error (or any pino level) shows the server's log while debugging a test.
    logger: process.env.TEST_LOG ? { level: process.env.TEST_LOG } : false,
    ...options,
    // `testOnlyScryptParams: undefined` given explicitly: the configuration decides.
    testOnlyScryptParams: 'testOnlyScryptParams' in options ? options.testOnlyScryptParams : TEST_SCRYPT_PARAMS,
    onQuery: (sql) => {
      queries.push(sql);
      options.onQuery?.(sql);
    },
  });
  const url = await app.listen();
  const credential = (username: string, password: string) => encodeCredential(username, password, config.credentialKey);

  const em = app.database.orm.em.fork();
  const adminUser = await em.findOneOrFail(User, { username: ADMIN.username });
  const users = {
    admin: { id: adminUser.id, username: ADMIN.username, roles: adminUser.roles, credential: credential(ADMIN.username, ADMIN.password) },
  } as Record<FixtureName | 'admin', TestUser>;
  if (!options.bare) {
    const adminViewer = { id: adminUser.id, username: ADMIN.username, roles: adminUser.roles, isAdmin: true };
    for (const [name, roles] of Object.entries(FIXTURE_USERS) as Array<[FixtureName, Role[]]>) {
      const user = await app.services.users.create(app.database.orm.em.fork(), adminViewer, { username: name, password: PASSWORD, roles });
      users[name] = { id: user.id, username: name, roles, credential: credential(name, PASSWORD) };
    }
  }
  return {
    app,
    url,
    kind,
    key: config.credentialKey,
    users,
    queries,
    credential,
    close: async () => {
      await app.close();
      await database?.drop();
    },
  };
}
