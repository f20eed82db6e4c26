import { scryptSync } from 'node:crypto';
import { DUMMY_PASSWORD_HASH, SCRYPT_PARAMS, hashPassword, needsRehash, verifyPassword } from './password';

describe('hashPassword / verifyPassword', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await hashPassword('correct horse battery staple');
  });

  it('produces a self-describing scrypt hash with a 16-byte salt', () => {
    const [scheme, N, r, p, salt, hash, ...rest] = stored.split('$');
    expect(rest).toEqual([]);
    expect(scheme).toBe('scrypt');
    expect([Number(N), Number(r), Number(p)]).toEqual([SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p]);
    expect(Buffer.from(salt ?? '', 'base64')).toHaveLength(16);
    expect(Buffer.from(hash ?? '', 'base64')).toHaveLength(32);
    expect(stored).not.toContain('correct horse');
  });

  it('salts every hash differently', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('verifies the right password and rejects others', async () => {
    await expect(verifyPassword('correct horse battery staple', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapl', stored)).resolves.toBe(false);
    await expect(verifyPassword('Correct horse battery staple', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('handles non-ASCII and empty passwords', async () => {
    const unicode = await hashPassword('密码 pässwörd 🔑');
    await expect(verifyPassword('密码 pässwörd 🔑', unicode)).resolves.toBe(true);
    await expect(verifyPassword('密码 passwörd 🔑', unicode)).resolves.toBe(false);
    const empty = await hashPassword('');
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
    expect(needsRehash(stored)).toBe(false);
  });

  it('takes a bounded, non-trivial time to verify', async () => {
    const started = process.hrtime.bigint();
    await verifyPassword('x', stored);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(ms).toBeGreaterThan(5);
    expect(ms).toBeLessThan(1000);
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
    await expect(verifyPassword(undefined as unknown as string, DUMMY_PASSWORD_HASH)).resolves.toBe(false);
  });
});

describe('DUMMY_PASSWORD_HASH', () => {
  it('is well-formed with the current parameters, so checking it costs a real scrypt', async () => {
    expect(needsRehash(DUMMY_PASSWORD_HASH)).toBe(false);
    const started = process.hrtime.bigint();
    await expect(verifyPassword('', DUMMY_PASSWORD_HASH)).resolves.toBe(false);
    await expect(verifyPassword('superadmin', DUMMY_PASSWORD_HASH)).resolves.toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThan(5);
  });
});
