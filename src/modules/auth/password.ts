import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DomainError, ErrorCode } from '../../shared/errors';

/**
 * Password hashing with scrypt (node:crypto, no native add-on). Stored hashes describe themselves,
 * `scrypt$N$r$p$<salt base64>$<hash base64>`, so the parameters can be raised later without
 * invalidating the hashes already stored.
 */

/** scrypt's cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/**
 * Parameters for new hashes: OWASP's Password Storage Cheat Sheet minimum for scrypt (N=2^17,
 * r=8, p=1). Each hash needs 128·N·r = 128 MiB and about a second of one core on the 2-core CI
 * machine (docs/hardening.md), which is why {@link PasswordHasher} bounds how many run at once
 * and the AuthService caches verified passwords. The previous parameters (N=2^14) still verify, and are rehashed on the
 * next successful sign-in.
 */
export const SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

const SALT_LENGTH = 16;
const HASH_LENGTH = 32;
const PREFIX = 'scrypt';

/**
 * Bounds on parameters read back from a stored hash. A stored hash is ours, but a corrupted or
 * hand-edited row must not be able to make one login burn gigabytes or minutes.
 */
const LIMITS = {
  logN: { min: 10, max: 20 },
  r: { min: 1, max: 32 },
  p: { min: 1, max: 16 },
  salt: { min: 8, max: 64 },
  hash: { min: 16, max: 128 },
  /** scrypt's working memory, 128·N·r bytes. */
  memoryBytes: 256 * 1024 * 1024,
} as const;

interface ParsedHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function scryptAsync(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** scrypt needs 128·N·r bytes; Node's default cap (32 MiB) would reject stronger parameters. */
const maxmemFor = (N: number, r: number): number => 256 * N * r;

function encode({ N, r, p, salt, hash }: ParsedHash): string {
  return [PREFIX, N, r, p, salt.toString('base64'), hash.toString('base64')].join('$');
}

function parseInteger(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^[1-9]\d{0,9}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}

/** Strict base64: Buffer.from silently skips junk, so require an exact round trip. */
function parseBase64(text: string | undefined, min: number, max: number): Buffer | undefined {
  if (text === undefined) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return bytes.length >= min && bytes.length <= max ? bytes : undefined;
}

function parseHash(stored: unknown): ParsedHash | undefined {
  if (typeof stored !== 'string' || stored.length > 512) return undefined;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const N = parseInteger(parts[1], 2 ** LIMITS.logN.min, 2 ** LIMITS.logN.max);
  const r = parseInteger(parts[2], LIMITS.r.min, LIMITS.r.max);
  const p = parseInteger(parts[3], LIMITS.p.min, LIMITS.p.max);
  const salt = parseBase64(parts[4], LIMITS.salt.min, LIMITS.salt.max);
  const hash = parseBase64(parts[5], LIMITS.hash.min, LIMITS.hash.max);
  // scrypt requires N to be a power of two.
  if (N === undefined || (N & (N - 1)) !== 0 || r === undefined || p === undefined || !salt || !hash) {
    return undefined;
  }
  if (128 * N * r > LIMITS.memoryBytes) return undefined;
  return { N, r, p, salt, hash };
}

function assertParams({ N, r, p }: ScryptParams): void {
  if (!Number.isInteger(N) || N < 2 ** LIMITS.logN.min || N > 2 ** LIMITS.logN.max || (N & (N - 1)) !== 0) {
    throw new RangeError(`scrypt N must be a power of two from 2^${LIMITS.logN.min} to 2^${LIMITS.logN.max}`);
  }
  if (!Number.isInteger(r) || r < LIMITS.r.min || r > LIMITS.r.max) throw new RangeError('scrypt r out of range');
  if (!Number.isInteger(p) || p < LIMITS.p.min || p > LIMITS.p.max) throw new RangeError('scrypt p out of range');
  if (128 * N * r > LIMITS.memoryBytes) throw new RangeError('scrypt parameters need more than 256 MiB');
}

/**
 * Hashes a password for storage, with a fresh random salt and the given parameters
 * ({@link SCRYPT_PARAMS} by default). No concurrency bound: services use {@link PasswordHasher}.
 *
 * @returns `scrypt$N$r$p$<salt base64>$<hash base64>`.
 */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  assertParams(params);
  const { N, r, p } = params;
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scryptAsync(password, salt, HASH_LENGTH, { N, r, p, maxmem: maxmemFor(N, r) });
  return encode({ N, r, p, salt, hash });
}

/**
 * Checks a password against a hash from {@link hashPassword}, using the parameters recorded in
 * the hash and a constant-time comparison.
 *
 * @returns false for a wrong password and for a malformed stored hash; never throws for bad input.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || typeof password !== 'string') return false;
  const { N, r, p, salt, hash } = parsed;
  try {
    const candidate = await scryptAsync(password, salt, hash.length, { N, r, p, maxmem: maxmemFor(N, r) });
    return timingSafeEqual(candidate, hash);
  } catch {
    return false;
  }
}

/** True when a stored hash uses weaker parameters than `params` ({@link SCRYPT_PARAMS} by default) or is malformed. */
export function needsRehash(stored: string, params: ScryptParams = SCRYPT_PARAMS): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return parsed.N < params.N || parsed.r < params.r || parsed.p < params.p || parsed.hash.length < HASH_LENGTH;
}

/** Options of {@link PasswordHasher}. */
export interface PasswordHasherOptions {
  /** Parameters of new hashes. Default {@link SCRYPT_PARAMS}; tests pass cheaper ones through `AppOptions`. */
  readonly params?: ScryptParams;
  /** scrypt computations at once. Default 2: 256 MiB at the default parameters. */
  readonly maxConcurrent?: number;
  /** Computations waiting for a slot; beyond this, refused with UNAVAILABLE (503). Default 32. */
  readonly maxQueued?: number;
}

export const DEFAULT_MAX_CONCURRENT_HASHES = 2;
export const DEFAULT_MAX_QUEUED_HASHES = 32;

/** Message of the refusal when every hashing slot and the queue are taken. */
export const HASHING_SATURATED_MESSAGE = 'Too many sign-ins at once, retry in a moment';

/**
 * The service's password hashing: scrypt at its parameters, at most `maxConcurrent` at once.
 *
 * At OWASP's parameters each scrypt holds 128 MiB for a few hundred milliseconds, so a burst of
 * sign-ins (or guesses for many usernames) must not start them all at once: extra computations
 * wait in a bounded queue, and beyond it are refused with UNAVAILABLE (503, `Retry-After: 1`)
 * before any memory is taken. Memory is bounded by `maxConcurrent × 128·N·r`.
 */
export class PasswordHasher {
  readonly params: ScryptParams;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private dummy?: Promise<string>;
  /** scrypt computations started (verifications and hashes), for tests and benchmarks. */
  computations = 0;

  constructor(options: PasswordHasherOptions = {}) {
    this.params = Object.freeze({ ...(options.params ?? SCRYPT_PARAMS) });
    assertParams(this.params);
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_HASHES;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED_HASHES;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) throw new RangeError('maxConcurrent must be an integer >= 1');
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) throw new RangeError('maxQueued must be an integer >= 0');
  }

  /** Hashes a new password at this hasher's parameters. */
  hash(password: string): Promise<string> {
    return this.slot(() => hashPassword(password, this.params));
  }

  /**
   * Checks a password against a stored hash (any parameters within bounds). Against `undefined`
   * (an unknown username) it checks against a hash of a random password at this hasher's
   * parameters, so the answer takes as long as for a known username, and is always false.
   */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    if (stored === undefined) {
      const dummy = await this.dummyHash();
      await this.slot(() => verifyPassword(password, dummy));
      return false;
    }
    return this.slot(() => verifyPassword(password, stored));
  }

  /** True when `stored` should be replaced by a hash at this hasher's parameters. */
  needsRehash(stored: string): boolean {
    return needsRehash(stored, this.params);
  }

  /** Hashes in flight and waiting, for tests and metrics. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private dummyHash(): Promise<string> {
    // Computed once, outside the bound: it is one hash per process.
    this.dummy ??= hashPassword(randomBytes(24).toString('base64'), this.params);
    return this.dummy;
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) {
        throw new DomainError(ErrorCode.UNAVAILABLE, HASHING_SATURATED_MESSAGE, { retryAfterSeconds: 1 });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    // A slot handed over by release() keeps `running` as it is.
    this.computations += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
