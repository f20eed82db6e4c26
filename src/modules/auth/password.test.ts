import { scryptSync } from 'node:crypto';
import { DomainError, ErrorCode } from '../../shared/errors';
import { HASHING_SATURATED_MESSAGE, PasswordHasher, SCRYPT_PARAMS, hashPassword, needsRehash, verifyPassword } from './password';

/** Cheap parameters for tests of the format and the logic; one test hashes at full strength. */
const CHEAP = { N: 1024, r: 8, p: 1 };

describe('hashPassword / verifyPassword', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await hashPassword('correct horse battery staple', CHEAP);
  });

  it("hashes at OWASP's scrypt parameters by default: N=2^17, r=8, p=1, a 16-byte salt", async () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    const strong = await hashPassword('correct horse battery staple');
    const [scheme, N, r, p, salt, hash, ...rest] = strong.split('$');
    expect(rest).toEqual([]);
    expect(scheme).toBe('scrypt');
    expect([Number(N), Number(r), Number(p)]).toEqual([131072, 8, 1]);
    expect(Buffer.from(salt ?? '', 'base64')).toHaveLength(16);
    expect(Buffer.from(hash ?? '', 'base64')).toHaveLength(32);
    expect(strong).not.toContain('correct horse');
    await expect(verifyPassword('correct horse battery staple', strong)).resolves.toBe(true);
    expect(needsRehash(strong)).toBe(false);
  });

  it('salts every hash differently', async () => {
    expect(await hashPassword('same', CHEAP)).not.toBe(await hashPassword('same', CHEAP));
  });

  it('verifies the right password and rejects others', async () => {
    await expect(verifyPassword('correct horse battery staple', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapl', stored)).resolves.toBe(false);
    await expect(verifyPassword('Correct horse battery staple', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('handles non-ASCII and empty passwords', async () => {
    const unicode = await hashPassword('密码 pässwörd 🔑', CHEAP);
    await expect(verifyPassword('密码 pässwörd 🔑', unicode)).resolves.toBe(true);
    await expect(verifyPassword('密码 passwörd 🔑', unicode)).resolves.toBe(false);
    const empty = await hashPassword('', CHEAP);
    await expect(verifyPassword('', empty)).resolves.toBe(true);
    await expect(verifyPassword(' ', empty)).resolves.toBe(false);
  });

  it('verifies with the parameters recorded in the hash, not the current defaults', async () => {
    const salt = Buffer.alloc(16, 1);
    const hash = scryptSync('old', salt, 64, { N: 1024, r: 4, p: 2 });
    const legacy = `scrypt$1024$4$2$${salt.toString('base64')}$${hash.toString('base64')}`;
    await expect(verifyPassword('old', legacy)).resolves.toBe(true);
    await expect(verifyPassword('new', legacy)).resolves.toBe(false);
    expect(needsRehash(legacy)).toBe(true);
    expect(needsRehash(legacy, { N: 1024, r: 4, p: 2 })).toBe(false);
  });

  it('still verifies the N=2^14 hashes stored before, and asks for their rehash', async () => {
    const old = await hashPassword('from last year', { N: 2 ** 14, r: 8, p: 1 });
    expect(old).toMatch(/^scrypt\$16384\$8\$1\$/);
    await expect(verifyPassword('from last year', old)).resolves.toBe(true);
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash(old, { N: 2 ** 14, r: 8, p: 1 })).toBe(false);
  });

  it('refuses parameters outside the bounds for new hashes', async () => {
    await expect(hashPassword('x', { N: 1000, r: 8, p: 1 })).rejects.toThrow(RangeError);
    await expect(hashPassword('x', { N: 2 ** 20, r: 8, p: 1 })).rejects.toThrow(RangeError);
    expect(() => new PasswordHasher({ params: { N: 512, r: 8, p: 1 } })).toThrow(RangeError);
  });
});

describe('PasswordHasher', () => {
  it('runs at most maxConcurrent hashes at once, queues up to maxQueued, and refuses the rest with UNAVAILABLE', async () => {
    const hasher = new PasswordHasher({ params: CHEAP, maxConcurrent: 2, maxQueued: 3 });
    const stored = await hasher.hash('pw');
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, hasher.load.running)), 0);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => hasher.verify('pw', stored)));
    clearInterval(sample);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value === true)).toHaveLength(5);
    expect(refused).toHaveLength(5);
    for (const outcome of refused) {
      const error = (outcome as PromiseRejectedResult).reason as DomainError;
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: ErrorCode.UNAVAILABLE, message: HASHING_SATURATED_MESSAGE, details: { retryAfterSeconds: 1 } });
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
    // Free again afterwards.
    await expect(hasher.verify('pw', stored)).resolves.toBe(true);
  });

  it('checks an unknown user against a dummy hash at its own parameters: one computation, always false', async () => {
    const hasher = new PasswordHasher({ params: CHEAP });
    await expect(hasher.verify('', undefined)).resolves.toBe(false);
    const before = hasher.computations;
    await expect(hasher.verify('anything', undefined)).resolves.toBe(false);
    expect(hasher.computations - before).toBe(1);
  });

  it('asks for a rehash below its own parameters', async () => {
    const hasher = new PasswordHasher({ params: { N: 2048, r: 8, p: 1 } });
    expect(hasher.needsRehash(await hashPassword('x', CHEAP))).toBe(true);
    expect(hasher.needsRehash(await hasher.hash('x'))).toBe(false);
  });
});

describe('verifyPassword with a malformed stored hash', () => {
  const salt = Buffer.alloc(16, 2).toString('base64');
  const hash = Buffer.alloc(32, 3).toString('base64');

  it.each([
    ['an empty string', ''],
    ['a plain-text password', 'secret'],
    ['a bcrypt hash', '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'],
    ['the wrong scheme', `argon2$16384$8$1$${salt}$${hash}`],
    ['too few fields', `scrypt$16384$8$1$${salt}`],
    ['too many fields', `scrypt$16384$8$1$${salt}$${hash}$x`],
    ['N not a power of two', `scrypt$16385$8$1$${salt}$${hash}`],
    ['N too small', `scrypt$512$8$1$${salt}$${hash}`],
    ['N absurdly large', `scrypt$${2 ** 30}$8$1$${salt}$${hash}`],
    ['memory beyond the bound', `scrypt$1048576$8$1$${salt}$${hash}`],
    ['r zero', `scrypt$16384$0$1$${salt}$${hash}`],
    ['p negative', `scrypt$16384$8$-1$${salt}$${hash}`],
    ['non-numeric N', `scrypt$abc$8$1$${salt}$${hash}`],
    ['N with leading zero', `scrypt$016384$8$1$${salt}$${hash}`],
    ['fractional r', `scrypt$16384$8.5$1$${salt}$${hash}`],
    ['a salt that is not base64', `scrypt$16384$8$1$!!!!$${hash}`],
    ['an empty salt', `scrypt$16384$8$1$$${hash}`],
    ['a short salt', `scrypt$16384$8$1$${Buffer.alloc(4).toString('base64')}$${hash}`],
    ['a short hash', `scrypt$16384$8$1$${salt}$${Buffer.alloc(8).toString('base64')}`],
    ['a hash with junk inside', `scrypt$16384$8$1$${salt}$${hash.slice(0, 10)}*${hash.slice(10)}`],
    ['an enormous string', `scrypt$16384$8$1$${salt}$${'A'.repeat(10_000)}`],
  ])('returns false, without throwing, for %s', async (_name, malformed) => {
    await expect(verifyPassword('secret', malformed)).resolves.toBe(false);
  });

  it('returns false for non-string inputs from untyped callers', async () => {
    await expect(verifyPassword('secret', null as unknown as string)).resolves.toBe(false);
    await expect(verifyPassword(undefined as unknown as string, await hashPassword('', CHEAP))).resolves.toBe(false);
  });
});
