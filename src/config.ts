import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

/** Everything the server needs to run, read once from the environment (SPEC "Running it"). */
export interface AppConfig {
  readonly port: number;
  readonly host: string;
  /** `postgres://…` for a PostgreSQL server; undefined for the embedded database. */
  readonly databaseUrl?: string;
  /** Embedded database and generated key live here. `undefined` in tests: in-memory PGlite. */
  readonly dataDir?: string;
  /** AES-256-GCM key of the credentials (32 bytes). */
  readonly credentialKey: Buffer;
  /** Where the key came from, for the start-up banner. */
  readonly credentialKeySource: string;
  readonly adminUsername: string;
  /** Undefined: generated and printed once when the admin is created. */
  readonly adminPassword?: string;
  /** Base of absolute image URLs; undefined means `http://HOST:PORT` of the listening server. */
  readonly publicUrl?: string;
  readonly redisUrl?: string;
  readonly logLevel: string;
  /** Whether GraphQL answers introspection (`__schema`, `__type`). Unset: on. */
  readonly graphqlIntrospection?: boolean;
  /** Whether GET /graphql from a browser shows Apollo's landing page (Sandbox). Unset: off. */
  readonly graphqlLandingPage?: boolean;
  /** Request line and headers must arrive within this (slowloris). Unset: {@link DEFAULT_HTTP_TIMEOUTS}. */
  readonly headersTimeoutMs?: number;
  /** The whole request, body included, must arrive within this. */
  readonly requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed (in-flight work included: keep it above the slowest request). */
  readonly idleTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs?: number;
  /** A sign-in token unused for this long stops working. Unset: {@link DEFAULT_SESSION_TIMEOUTS}. */
  readonly sessionIdleTimeoutMs?: number;
  /** A sign-in token stops working this long after sign-in, however much it is used. */
  readonly sessionMaxAgeMs?: number;
}

/**
 * Sign-in tokens (`login`): two hours without a request or an open socket ends a session, and
 * none outlives a day (a shift and then some); then the person signs in again.
 */
export const DEFAULT_SESSION_TIMEOUTS = {
  sessionIdleTimeoutMs: 2 * 3_600_000,
  sessionMaxAgeMs: 24 * 3_600_000,
} as const;

/**
 * HTTP timeouts: a client gets 15 s to send its headers and 2 minutes for a whole request (ten
 * 10 MiB images at about 1 MB/s); a silent connection goes after a minute, an idle keep-alive one
 * after 72 s (Fastify's default, above the 60 s idle timeout of common load balancers).
 */
export const DEFAULT_HTTP_TIMEOUTS = {
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 72_000,
} as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KEY_FILE = 'credential.key';

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 4000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got "${value}"`);
  }
  return port;
}

export function parseCredentialKey(hex: string, source: string): Buffer {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    throw new ConfigError(`${source} must be 64 hexadecimal characters (a 256-bit key)`);
  }
  return Buffer.from(trimmed, 'hex');
}

/**
 * The credential key: `CREDENTIAL_KEY` when set, else the one kept in `DATA_DIR`, generated on
 * first start (mode 0600). Without a data directory (tests) a fresh random key is used.
 */
export function resolveCredentialKey(
  env: NodeJS.ProcessEnv,
  dataDir: string | undefined,
  { create = true }: { create?: boolean } = {},
): { key: Buffer; source: string } {
  if (env.CREDENTIAL_KEY) return { key: parseCredentialKey(env.CREDENTIAL_KEY, 'CREDENTIAL_KEY'), source: 'CREDENTIAL_KEY' };
  if (!dataDir) return { key: randomBytes(32), source: 'generated in memory' };
  const file = path.join(dataDir, KEY_FILE);
  if (existsSync(file)) return { key: parseCredentialKey(readFileSync(file, 'utf8'), file), source: file };
  if (!create) throw new ConfigError(`No CREDENTIAL_KEY set and no key file at ${file}; start the server once first`);
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, source: file };
}

function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const normalized = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(normalized)) return true;
  if (['false', '0', 'no', 'off'].includes(normalized)) return false;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

/** A duration in milliseconds, 1 ms to 1 hour. */
function parseMilliseconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(ms) || ms < 1 || ms > 3_600_000) {
    throw new ConfigError(`${name} must be a number of milliseconds from 1 to 3600000, got "${value}"`);
  }
  return ms;
}

/** A duration in whole seconds, 60 s to 1 year, returned in milliseconds. */
function parseSeconds(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined || value === '') return fallbackMs;
  const seconds = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(seconds) || seconds < 60 || seconds > 31_536_000) {
    throw new ConfigError(`${name} must be a number of seconds from 60 to 31536000, got "${value}"`);
  }
  return seconds * 1000;
}

function parseDatabaseUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
  return value;
}

function parsePublicUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`PUBLIC_URL must be an absolute http(s) URL, got "${value}"`);
  }
  return value.replace(/\/+$/, '');
}

/** Reads and validates the configuration; throws ConfigError naming the bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const databaseUrl = parseDatabaseUrl(env.DATABASE_URL);
  const { key, source } = resolveCredentialKey(env, dataDir);
  const headersTimeoutMs = parseMilliseconds('HTTP_HEADERS_TIMEOUT_MS', env.HTTP_HEADERS_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs);
  const requestTimeoutMs = parseMilliseconds('HTTP_REQUEST_TIMEOUT_MS', env.HTTP_REQUEST_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs);
  // The headers are part of the request: Node refuses a headers timeout beyond the request's.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  const sessionIdleTimeoutMs = parseSeconds('SESSION_IDLE_TIMEOUT_SECONDS', env.SESSION_IDLE_TIMEOUT_SECONDS, DEFAULT_SESSION_TIMEOUTS.sessionIdleTimeoutMs);
  const sessionMaxAgeMs = parseSeconds('SESSION_MAX_AGE_SECONDS', env.SESSION_MAX_AGE_SECONDS, DEFAULT_SESSION_TIMEOUTS.sessionMaxAgeMs);
  if (sessionIdleTimeoutMs > sessionMaxAgeMs) {
    throw new ConfigError(
      `SESSION_IDLE_TIMEOUT_SECONDS (${sessionIdleTimeoutMs / 1000}) must not exceed SESSION_MAX_AGE_SECONDS (${sessionMaxAgeMs / 1000})`,
    );
  }
  return {
    port: parsePort(env.PORT),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    dataDir,
    credentialKey: key,
    credentialKeySource: source,
    adminUsername: env.ADMIN_USERNAME || 'superadmin',
    adminPassword: env.ADMIN_PASSWORD || undefined,
    publicUrl: parsePublicUrl(env.PUBLIC_URL),
    redisUrl: env.REDIS_URL || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    // Dev-first: on unless told otherwise or NODE_ENV=production.
    graphqlIntrospection: parseBoolean('GRAPHQL_INTROSPECTION', env.GRAPHQL_INTROSPECTION, env.NODE_ENV !== 'production'),
    graphqlLandingPage: parseBoolean('GRAPHQL_LANDING_PAGE', env.GRAPHQL_LANDING_PAGE, false),
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: parseMilliseconds('HTTP_IDLE_TIMEOUT_MS', env.HTTP_IDLE_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.idleTimeoutMs),
    keepAliveTimeoutMs: parseMilliseconds('HTTP_KEEP_ALIVE_TIMEOUT_MS', env.HTTP_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs),
    sessionIdleTimeoutMs,
    sessionMaxAgeMs,
  };
}
