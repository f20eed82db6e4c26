import { idleExpiry, isTokenShaped, newToken, tokenDigest, TOKEN_PREFIX } from './session-token';

describe('sign-in tokens', () => {
  it('are the prefix and 32 random bytes in base64url, each one different', () => {
    const tokens = Array.from({ length: 1_000 }, newToken);
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) {
      expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
      expect(isTokenShaped(token)).toBe(true);
    }
  });

  it.each([
    ['empty', ''],
    ['no prefix', 'A'.repeat(43)],
    ['another prefix', `hd2_${'A'.repeat(43)}`],
    ['one character short', `hd1_${'A'.repeat(42)}`],
    ['one character long', `hd1_${'A'.repeat(44)}`],
    ['base64 padding', `hd1_${'A'.repeat(42)}=`],
    ['standard base64 characters', `hd1_${'A'.repeat(42)}+`],
    ['whitespace', ` hd1_${'A'.repeat(43)}`],
    ['a number', 42],
    ['null', null],
    ['an object', {}],
  ])('rejects %s before any lookup', (_what, value) => {
    expect(isTokenShaped(value)).toBe(false);
  });

  it('are stored as hex SHA-256: fixed length, deterministic, never the token', () => {
    const token = newToken();
    const digest = tokenDigest(token);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenDigest(token)).toBe(digest);
    expect(tokenDigest(newToken())).not.toBe(digest);
    expect(digest).not.toContain(token.slice(TOKEN_PREFIX.length, 20));
  });

  it.each([
    // lastUsedAt, expiresAt, idle → idle expiry
    [1_000, 100_000, 5_000, 6_000],
    [1_000, 4_000, 5_000, 4_000], // the maximum age comes first
    [0, 5_000, 5_000, 5_000],
  ])('idle expiry of a session last used at %p, expiring at %p, idle timeout %p is %p', (lastUsedAt, expiresAt, idle, expected) => {
    expect(idleExpiry({ lastUsedAt, expiresAt }, idle)).toBe(expected);
  });
});
