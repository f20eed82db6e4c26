import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (node:crypto, no native add-on). Stored hashes describe themselves,
 * `scrypt$N$r$p$<salt base64>$<hash base64>`, so the parameters can be raised later without
 * invalidating the hashes already stored.
 */

/** Parameters for new hashes: about 35 ms per hash on a 2-core CI machine, 16 MiB of memory. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;

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

/**
 * A well-formed hash of a random password nobody knows. Verifying against it costs the same as
 * verifying a real user's password, so a login for an unknown username takes as long as one for
 * a known username (no user enumeration by timing). Never treat a match against it as success.
 */
export const DUMMY_PASSWORD_HASH =
  'scrypt$16384$8$1$DLBDmYXo/O/p7KsyvqfSig==$P92PSIXpmxqCt0qVSKKJX24L7/Iup191QHeG8w2vQ6w=';

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

/**
 * Hashes a password for storage, with a fresh random salt and {@link SCRYPT_PARAMS}.
 *
 * @returns `scrypt$N$r$p$<salt base64>$<hash base64>`.
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  const { N, r, p } = SCRYPT_PARAMS;
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

/** True when a stored hash uses weaker parameters than {@link SCRYPT_PARAMS} (or is malformed). */
export function needsRehash(stored: string): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return (
    parsed.N < SCRYPT_PARAMS.N ||
    parsed.r < SCRYPT_PARAMS.r ||
    parsed.p < SCRYPT_PARAMS.p ||
    parsed.hash.length < HASH_LENGTH
  );
}
