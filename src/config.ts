import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { DEFAULT_MAX_BODY_BYTES_IN_FLIGHT, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from './http/body-guards';
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_TICKET } from './modules/image/image.limits';

/** The smallest MAX_BODY_BYTES_IN_FLIGHT: the largest body a route takes (ten base64 images and 1 MiB) must fit. */
const MIN_BODY_BYTES_IN_FLIGHT = Math.ceil((MAX_IMAGES_PER_TICKET * MAX_IMAGE_BYTES * 4) / 3) + 1024 * 1024;

/** Everything the server needs to run, read once from the environment (docs/contract.md "Running it"). */
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
  /**
   * Which proxies' `X-Forwarded-For` to believe for the client address (failed-login throttling,
   * logs): false (default, the socket's peer is the client), true (any), a number of hops, or
   * addresses/CIDR ranges of the proxies. Fastify's `trustProxy`.
   */
  readonly trustProxy?: TrustProxy;
  /** PostgreSQL: longest a statement may run before it is cancelled (503). Unset: db/database.ts's default. */
  readonly databaseStatementTimeoutMs?: number;
  /** PostgreSQL: longest a request waits for a database connection (503). */
  readonly databaseAcquireTimeoutMs?: number;
  /** Replies (not deleted) one ticket may hold. Unset: 1,000. */
  readonly maxRepliesPerTicket?: number;
  /** Open graphql-ws sockets one user may hold per server process. Unset: 32. */
  readonly maxSocketsPerUser?: number;
  /** Bytes of large request bodies read at once, all clients together; beyond, 503. Unset: 256 MiB. */
  readonly maxBodyBytesInFlight?: number;
  /** Open connections per client address (HTTP and WebSocket); 0: no limit. Unset: 128. */
  readonly maxConnectionsPerAddress?: number;
  /** Bearer token of `GET /metrics`; unset: no metrics are kept and /metrics answers 404. */
  readonly metricsToken?: string;
  /**
   * log2 of scrypt's N for new password hashes (`PASSWORD_SCRYPT_LOG2_N`). Unset: 17, OWASP's
   * minimum. Lower values are below that guidance (the server warns at start); they exist for
   * test environments that start the real server.
   */
  readonly passwordScryptLog2N?: number;
  /** A sign-in token unused for this long stops working. Unset: {@link DEFAULT_SESSION_TIMEOUTS}. */
  readonly sessionIdleTimeoutMs?: number;
  /** A sign-in token stops working this long after sign-in, however much it is used. */
  readonly sessionMaxAgeMs?: number;
  /**
   * Request budget per client (`RATE_LIMIT_POINTS` per `RATE_LIMIT_WINDOW_SECONDS`,
   * docs/hardening.md "Request budgets"). Unset or 0: no budgets (what tests get from testConfig);
   * `loadConfig` sets {@link DEFAULT_RATE_LIMIT} when the variable is unset.
   */
  readonly rateLimitPoints?: number;
  /** The budget's window. Unset: {@link DEFAULT_RATE_LIMIT}. */
  readonly rateLimitWindowMs?: number;
}

/** Production request budget: 10,000 points a minute per client (rate-cost.ts prices operations). */
export const DEFAULT_RATE_LIMIT = {
  rateLimitPoints: 10_000,
  rateLimitWindowMs: 60_000,
} as const;

/** See {@link AppConfig.trustProxy}. */
export type TrustProxy = boolean | number | readonly string[];

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

/**
 * Limits on what one client or one failing dependency can cost (docs/hardening.md, "Buffers that
 * grow with someone else's traffic" and "Faults left open").
 */
export const DEFAULT_LIMITS = {
  databaseStatementTimeoutMs: 5_000,
  databaseAcquireTimeoutMs: 5_000,
  maxRepliesPerTicket: 1_000,
  maxSocketsPerUser: 32,
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

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `TRUST_PROXY`: true/false, a hop count, or a comma-separated list of addresses and CIDR ranges. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined || value.trim() === '') return false;
  const text = value.trim();
  const lower = text.toLowerCase();
  if (['true', 'yes', 'on'].includes(lower)) return true;
  if (['false', 'no', 'off', '0'].includes(lower)) return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 0 && hops <= 32) return hops;
  }
  const entries = text.split(',').map((entry) => entry.trim());
  const valid = (entry: string): boolean => {
    if (PROXY_NAMES.has(entry)) return true;
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    const bits = Number(prefix);
    return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
  };
  const bad = entries.find((entry) => !valid(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      `TRUST_PROXY must be true, false, a number of proxy hops (1 to 32), or a comma-separated list of proxy addresses or CIDR ranges (or loopback, linklocal, uniquelocal); "${bad}" is none of these`,
    );
  }
  return entries;
}

/** A whole number from `min` to `max`. */
function parseCount(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(count) || count < min || count > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return count;
}

/** `PASSWORD_SCRYPT_LOG2_N`: 12 to 18 (r=8: 128·2^18·8 = 256 MiB is the verifier's bound). */
function parseScryptLog2N(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const log2 = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || log2 < 12 || log2 > 18) {
    throw new ConfigError(`PASSWORD_SCRYPT_LOG2_N must be an integer from 12 to 18 (17 is OWASP's minimum), got "${value}"`);
  }
  return log2;
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

/** A secret for an Authorization header: 16 to 512 visible ASCII characters, no spaces. */
function parseMetricsToken(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[\x21-\x7e]{16,512}$/.test(value)) {
    throw new ConfigError('METRICS_TOKEN must be 16 to 512 visible ASCII characters without spaces (e.g. openssl rand -hex 32)');
  }
  return value;
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
    throw new ConfigError(`SESSION_IDLE_TIMEOUT_SECONDS (${sessionIdleTimeoutMs / 1000}) must not exceed SESSION_MAX_AGE_SECONDS (${sessionMaxAgeMs / 1000})`);
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
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    databaseStatementTimeoutMs: parseMilliseconds(
      'DATABASE_STATEMENT_TIMEOUT_MS',
      env.DATABASE_STATEMENT_TIMEOUT_MS,
      DEFAULT_LIMITS.databaseStatementTimeoutMs,
    ),
    databaseAcquireTimeoutMs: parseMilliseconds('DATABASE_ACQUIRE_TIMEOUT_MS', env.DATABASE_ACQUIRE_TIMEOUT_MS, DEFAULT_LIMITS.databaseAcquireTimeoutMs),
    maxRepliesPerTicket: parseCount('MAX_REPLIES_PER_TICKET', env.MAX_REPLIES_PER_TICKET, DEFAULT_LIMITS.maxRepliesPerTicket, 1, 1_000_000),
    maxSocketsPerUser: parseCount('WS_MAX_SOCKETS_PER_USER', env.WS_MAX_SOCKETS_PER_USER, DEFAULT_LIMITS.maxSocketsPerUser, 1, 100_000),
    // At least one largest JSON body (134 MiB) must fit, or large requests could never be served.
    maxBodyBytesInFlight: parseCount(
      'MAX_BODY_BYTES_IN_FLIGHT',
      env.MAX_BODY_BYTES_IN_FLIGHT,
      DEFAULT_MAX_BODY_BYTES_IN_FLIGHT,
      MIN_BODY_BYTES_IN_FLIGHT,
      Number.MAX_SAFE_INTEGER,
    ),
    maxConnectionsPerAddress: parseCount('MAX_CONNECTIONS_PER_ADDRESS', env.MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 0, 1_000_000),
    metricsToken: parseMetricsToken(env.METRICS_TOKEN),
    passwordScryptLog2N: parseScryptLog2N(env.PASSWORD_SCRYPT_LOG2_N),
    sessionIdleTimeoutMs,
    sessionMaxAgeMs,
    // 0 turns budgets off.
    rateLimitPoints: parseCount('RATE_LIMIT_POINTS', env.RATE_LIMIT_POINTS, DEFAULT_RATE_LIMIT.rateLimitPoints, 0, 1_000_000_000),
    rateLimitWindowMs: parseCount('RATE_LIMIT_WINDOW_SECONDS', env.RATE_LIMIT_WINDOW_SECONDS, DEFAULT_RATE_LIMIT.rateLimitWindowMs / 1000, 1, 86_400) * 1000,
  };
}
