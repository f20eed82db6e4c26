import { DomainError, ErrorCode } from '../../shared/errors';
import { createFingerprint, parseIdempotencyKey } from './idempotency';

function expectBadKey(value: unknown, message: RegExp): void {
  try {
    parseIdempotencyKey(value);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.BAD_INPUT, details: { field: 'Idempotency-Key' } });
    expect((error as Error).message).toMatch(message);
    return;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('parseIdempotencyKey', () => {
  it('accepts 1 to 255 printable ASCII characters literally', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    for (const key of ['a', ' ', '~', 'k'.repeat(255), '"quoted"', 'order 42 / retry', '550e8400-e29b-41d4-a716-446655440000']) {
      expect(parseIdempotencyKey(key)).toBe(key);
    }
  });

  it.each<[string, unknown, RegExp]>([
    ['empty', '', /must not be empty/],
    ['too long', 'k'.repeat(256), /at most 255 characters/],
    ['a control character', 'a\u0001b', /printable ASCII/],
    ['DEL', 'a\u007fb', /printable ASCII/],
    ['a tab', 'a\tb', /printable ASCII/],
    ['non-ASCII', 'café', /printable ASCII/],
    ['repeated', ['a', 'b'], /at most one Idempotency-Key header/],
    ['not a string', 42, /must be a string/],
  ])('refuses %s, naming the header', (_label, value, message) => expectBadKey(value, message));
});

describe('createFingerprint', () => {
  const png = Buffer.from('89504e470d0a1a0a', 'hex');
  const gif = Buffer.from('474946383961', 'hex');
  const stored = { kind: 'stored', id: '0190e2a0-0000-7000-8000-000000000001' } as const;

  it('is the same for the same command and differs for any change', () => {
    const base = createFingerprint('words', [stored, { kind: 'inline', bytes: png, mime: 'image/png' }]);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(createFingerprint('words', [stored, { kind: 'inline', bytes: Buffer.from(png), mime: 'image/png' }])).toBe(base);
    const variants = [
      createFingerprint('words ', [stored, { kind: 'inline', bytes: png, mime: 'image/png' }]),
      createFingerprint('words', [{ kind: 'inline', bytes: png, mime: 'image/png' }, stored]),
      createFingerprint('words', [stored, { kind: 'inline', bytes: gif, mime: 'image/gif' }]),
      createFingerprint('words', [stored]),
      createFingerprint('words', []),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});
